"""What every request passes before a route sees it: a text check and a bounded queue.

Text: a path or query holding control or format characters (NUL, CR/LF, U+202E, ...)
is answered 400 here, so no route, header or database driver ever meets one (psycopg2
refuses NUL with a ValueError; CR/LF in a header breaks the connection).

Load: at most ``concurrency`` requests run at once (one pooled connection each), up to
``queue`` more wait a bounded time, and the rest get 503 with ``Retry-After`` at once.
The gate is asynchronous, so a request waiting here holds neither a thread nor a
connection, and the server keeps answering however many requests arrive.
"""
from __future__ import annotations

import asyncio
import logging
import unicodedata
from urllib.parse import unquote_plus

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from classifier_service.api.db import Limits

log = logging.getLogger(__name__)
# Unicode categories no identifier, class or parameter of this API contains.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs"})
# Object identifiers in paths: printable ASCII without spaces (ZTF oids, LSST integer ids).
OID_PATTERN = r"^[!-~]+$"
LSST_OID_PATTERN = r"^(ss)?[0-9]+$"  # a diaObjectId, or "ss" and an ssObjectId
LSST_SURVEY_PATTERN = "^lsst$"
# What a parameter that does not match its pattern must be, in words (pydantic names the regex).
PATTERN_MEANINGS = {
    OID_PATTERN: "must be an object id: printable ASCII without spaces, such as ZTF18abbuksn",
    LSST_OID_PATTERN: "must be a Rubin diaObjectId (digits), or ss and the digits of an ssObjectId",
    LSST_SURVEY_PATTERN: 'must be "lsst" (ZTF objects have their own routes)',
}


def unprintable(text: str) -> str | None:
    """The first control or format character in ``text``, if any."""
    return next((c for c in text if unicodedata.category(c) in _UNPRINTABLE), None)


class Gate:
    """ASGI middleware: the text check, then admission through the bounded queue."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bad = unprintable(scope["path"]) or unprintable(
            unquote_plus(scope.get("query_string", b"").decode("latin-1")))
        if bad is not None:
            await _answer(400, f"the request contains the control or format character "
                               f"U+{ord(bad):04X}; object ids and parameters are printable "
                               "text")(scope, receive, send)
            return
        slots = self._semaphore()
        if slots.locked() and self.waiting >= self.limits.queue:
            await self._busy(scope, receive, send)
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(slots.acquire(), self.limits.queue_wait_s)
        except TimeoutError:
            await self._busy(scope, receive, send)
            return
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()

    def _semaphore(self) -> asyncio.Semaphore:
        """One semaphore per event loop (tests may serve the same app from several loops)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = asyncio.Semaphore(self.limits.concurrency), loop
        return self._slots

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(503, "the API is busy; retry after the time in Retry-After",
                      {"Retry-After": str(self.limits.retry_after_s)})(scope, receive, send)


def _answer(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": []}, status_code=status, headers=headers)
