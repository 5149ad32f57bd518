"""A client for the Transient Name Server (TNS) bot API.

TNS identifies a bot by its ``tns_marker`` User-Agent and an api_key sent as form data;
every call answers JSON with ``id_code``/``id_message``/``data``. Reports are bulk
uploads that TNS processes asynchronously: ``bulk-report`` returns a report id, and
``bulk-report-reply`` answers 404 until the report is processed.

The one rule that shapes this module: a report is never sent twice. Only an answer that
proves TNS refused the upload (a 4xx, or a 429 which TNS answers before reading it) is
final; anything else — a 5xx, a time-out, a reset mid-body, a 200 that is not JSON or
carries no report id — raises :class:`ReportOutcomeUnknown`, and the caller asks TNS
(search by internal name and position) before anything is sent again. Reads are safe to
retry and are, within one overall deadline per call (connection, every attempt and the
whole body, not each read). The client never sleeps on a rate limit: it raises
:class:`RateLimited` with the time the budget resets, for a poller to come back then.

The API key lives in a :class:`Secret` and is revealed only inside ``_post_with_key``,
whose failures are re-raised without their context, so no traceback, log or debug page
ever holds it.

A client keeps the outcome of each call (``answers``, ``failures``): whether TNS itself is
failing, rather than refusing one request, is what automatic reporting's circuit breaker
(:mod:`facilities.tns.breaker`) goes by.
"""
from __future__ import annotations

import functools
import http.client
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
import urllib3
from django.views.decorators.debug import sensitive_variables

log = logging.getLogger(__name__)

LIVE_URL = "https://www.wis-tns.org"
SANDBOX_URL = "https://sandbox.wis-tns.org"

# Feedback codes of a processed AT report.
FEEDBACK_NEW_OBJECT = "100"
FEEDBACK_ALREADY_EXISTS = "101"
FEEDBACK_PREFIX_CHANGED = "121"
ACCEPTED_FEEDBACK = {FEEDBACK_NEW_OBJECT, FEEDBACK_ALREADY_EXISTS, FEEDBACK_PREFIX_CHANGED}

MAX_REPLY_BYTES = 5_000_000  # TNS replies are kilobytes; anything bigger is not TNS answering
RATE_LIMIT_EXHAUSTED = {"0", "Exhausted"}


class TNSError(RuntimeError):
    """TNS answered with an error we cannot act on (bad credentials, rejected data...)."""


class TNSUnavailable(TNSError):
    """TNS did not answer usefully in time (5xx, time-out, reset, an answer that is not TNS's)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.at = _utcnow()  # when TNS failed: what the breaker tells the decisions it makes meanwhile


class ReportOutcomeUnknown(TNSUnavailable):
    """A report upload failed in a way that may or may not have reached TNS."""


class RateLimited(TNSUnavailable):
    """TNS's request budget is spent until ``until``; nothing was sent."""

    def __init__(self, what: str, until: datetime):
        super().__init__(f"{what}: rate limited until {until:%Y-%m-%d %H:%M:%S} UTC")
        self.until = until


class Secret:
    """A string that never shows itself: repr, str, logs and debug pages see '***'."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class TNSCredentials:
    bot_id: str
    bot_name: str
    api_key: Secret = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, Secret):
            object.__setattr__(self, "api_key", Secret(str(self.api_key)))

    @property
    def marker(self) -> str:
        return "tns_marker" + json.dumps({"tns_id": str(self.bot_id), "type": "bot", "name": self.bot_name})


@dataclass
class ReportReply:
    """The processed state of a bulk report: ``processed=False`` while TNS has not processed it yet."""

    processed: bool
    accepted: bool = False
    feedback: list[dict[str, Any]] = field(default_factory=list)
    objname: str | None = None  # the IAU name without prefix, e.g. "2025abc"
    prefix: str | None = None  # "AT" or "SN"
    codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read in full within the deadline."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        try:
            document = json.loads(self.body)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def message(self) -> str:
        document = self.json()
        if document is None:
            return self.body[:200].decode("utf-8", "replace")
        return str(document.get("id_message") or document.get("data") or document)[:500]


class _NoAnswer(Exception):
    """No complete answer: connection failed, reset, timed out, or the deadline passed."""


def _observed(call: Callable[..., Any]) -> Callable[..., Any]:
    """Count a call of the API on its client: answered (a refusal is TNS answering) or failed."""

    @functools.wraps(call)
    def observed(self: TNSClient, *args, **kwargs):
        try:
            result = call(self, *args, **kwargs)
        except TNSUnavailable as exc:
            self.failures.append(exc)
            raise
        except TNSError:
            self.answers += 1
            raise
        self.answers += 1
        return result

    return observed


class TNSClient:
    """Talks to one TNS instance (live or sandbox) as one bot, politely and safely.

    ``deadline_s`` bounds each call as a whole: connecting, every retry and reading the body,
    checked between reads; one blocked read waits at most ``read_timeout_s`` (or what is left
    of the deadline, if less), so a call never outlasts ``deadline_s + read_timeout_s``.
    """

    def __init__(self, base_url: str, credentials: TNSCredentials, *, deadline_s: float = 30.0,
                 read_timeout_s: float = 10.0, max_retries: int = 3, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.deadline_s = deadline_s
        self.read_timeout_s = read_timeout_s
        self.max_retries = max_retries
        self.session = session or requests.Session()
        self.sleep = sleep
        self.blocked_until: datetime | None = None  # when an exhausted rate-limit budget resets
        self.answers = 0  # calls TNS answered, refusals included
        self.failures: list[TNSUnavailable] = []  # calls TNS failed, in order

    # -- the API -----------------------------------------------------------------------
    @_observed
    def send_report(self, at_report: dict[str, Any]) -> str:
        """Upload a bulk AT report; return its report id.

        Raises :class:`RateLimited` (nothing sent), :class:`TNSError` (refused: nothing
        stored) or :class:`ReportOutcomeUnknown` (anything that does not prove either).
        """
        path = "/api/set/bulk-report"
        try:
            answer = self._request(path, {"data": json.dumps(at_report)}, retry_unavailable=False,
                                   expected=(200,))
        except (RateLimited, ReportOutcomeUnknown):
            raise
        except TNSUnavailable as exc:
            raise ReportOutcomeUnknown(str(exc)) from None
        body = answer.json()
        if body is None:
            raise ReportOutcomeUnknown(f"POST {path}: HTTP 200 with a body that is not TNS's JSON")
        data = body.get("data")
        report_id = data.get("report_id") if isinstance(data, dict) else None
        if not report_id:
            raise ReportOutcomeUnknown(f"POST {path}: HTTP 200 without a report id: {answer.message()}")
        return str(report_id)

    @_observed
    def report_reply(self, report_id: str) -> ReportReply:
        """The feedback of a processed report; ``processed=False`` while TNS answers 404."""
        answer = self._request("/api/get/bulk-report-reply", {"report_id": str(report_id)},
                               retry_unavailable=True, expected=(200, 400, 404))
        if answer.status == 404:
            return ReportReply(processed=False)
        body = _json(answer, "/api/get/bulk-report-reply")
        feedback = _at_report_feedback(body)
        codes = [code for item in feedback for code in item]
        objname, prefix = _name_from_feedback(feedback)
        accepted = answer.status == 200 and bool(codes) and set(codes) <= ACCEPTED_FEEDBACK
        return ReportReply(processed=True, accepted=accepted, feedback=feedback, objname=objname,
                           prefix=prefix, codes=codes)

    @_observed
    def search(self, *, ra: float | None = None, dec: float | None = None, radius_arcsec: float = 3.0,
               internal_name: str | None = None) -> list[dict[str, Any]]:
        """Objects near a position and/or with an internal name (e.g. a ZTF oid)."""
        query: dict[str, Any] = {}
        if ra is not None and dec is not None:
            query.update(ra=f"{ra:.6f}", dec=f"{dec:.6f}", radius=str(radius_arcsec), units="arcsec")
        if internal_name:
            query["internal_name"] = internal_name
        body = self._post("/api/get/search", {"data": json.dumps(query)})
        data = body.get("data") or {}
        return list(data.get("reply", data) if isinstance(data, dict) else data)

    @_observed
    def get_object(self, objname: str) -> dict[str, Any]:
        body = self._post("/api/get/object", {"data": json.dumps({"objname": objname})})
        data = body.get("data") or {}
        return data.get("reply", data)

    # -- transport -----------------------------------------------------------------------
    def _post(self, path: str, form: dict[str, Any]) -> dict[str, Any]:
        return _json(self._request(path, form, retry_unavailable=True, expected=(200,)), path)

    def _request(self, path: str, form: dict[str, Any], *, retry_unavailable: bool,
                 expected: tuple[int, ...]) -> Answer:
        deadline = time.monotonic() + self.deadline_s
        self._check_budget(path)
        for attempt in range(self.max_retries + 1):
            try:
                answer = self._exchange(path, form, deadline)
            except _NoAnswer as exc:
                why = str(exc)
            else:
                self._note_budget(answer)
                if answer.status == 429:
                    raise RateLimited(f"POST {path}", _reset_time(answer))
                if answer.status < 500 and answer.status in expected:
                    return answer
                if answer.status < 500:
                    raise TNSError(f"POST {path}: HTTP {answer.status}: {answer.message()}")
                why = f"HTTP {answer.status}"
            wait = min(2.0 ** attempt, deadline - time.monotonic() - 1.0)
            if not retry_unavailable or attempt == self.max_retries or wait <= 0:
                raise TNSUnavailable(f"POST {path}: {why}")
            log.warning("TNS POST %s failed (%s); retrying in %.0f s", path, why, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _exchange(self, path: str, form: dict[str, Any], deadline: float) -> Answer:
        """One POST read in full before ``deadline``; raises _NoAnswer without the underlying
        exception (it carries the request, api_key included)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _NoAnswer("overall deadline passed")
        failure = None
        try:
            timeout = (min(self.read_timeout_s, remaining), min(self.read_timeout_s, remaining))
            response = _post_with_key(self.session, self.base_url + path, self.credentials, form, timeout)
            try:
                body = _read_before(response, deadline)
            finally:
                response.close()
        except _NoAnswer as exc:
            failure = str(exc)
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                OSError) as exc:
            failure = type(exc).__name__
        if failure is not None:  # raised here, outside the handler, so no context is chained
            raise _NoAnswer(failure)
        return Answer(status=response.status_code, headers=dict(response.headers), body=body)

    def _check_budget(self, path: str) -> None:
        if self.blocked_until and self.blocked_until > _utcnow():
            raise RateLimited(f"POST {path}", self.blocked_until)

    def _note_budget(self, answer: Answer) -> None:
        """Remember an exhausted budget, so the next call waits for the reset instead of a 429."""
        remaining = answer.headers.get("x-rate-limit-remaining")
        if remaining is not None and remaining.strip() in RATE_LIMIT_EXHAUSTED:
            self.blocked_until = _reset_time(answer)
            log.info("TNS rate limit reached; next call after %s", self.blocked_until)


@sensitive_variables()
def _post_with_key(session: requests.Session, url: str, credentials: TNSCredentials, form: dict[str, Any],
                   timeout: tuple[float, float]) -> requests.Response:
    """The only place the API key is revealed: straight into the form TNS reads it from."""
    return session.post(url, data={"api_key": credentials.api_key.reveal(), **form},
                        headers={"User-Agent": credentials.marker}, timeout=timeout, stream=True)


def _read_before(response: requests.Response, deadline: float) -> bytes:
    """The whole body, read as it arrives; a trickle cannot outlast the deadline."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise _NoAnswer("overall deadline passed while reading the reply")
        chunk = response.raw.read1(65536, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise _NoAnswer(f"reply larger than {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _reset_time(answer: Answer) -> datetime:
    """When the budget resets: TNS's x-rate-limit-reset (seconds), plus a second of margin."""
    try:
        seconds = float(answer.headers.get("x-rate-limit-reset", "10"))
    except ValueError:
        seconds = 10.0
    return _utcnow() + timedelta(seconds=max(seconds, 0.0) + 1.0)


def _json(answer: Answer, path: str) -> dict[str, Any]:
    body = answer.json()
    if body is None:
        raise TNSUnavailable(f"POST {path}: HTTP {answer.status} with a body that is not TNS's JSON")
    return body


def _at_report_feedback(body: dict[str, Any]) -> list[dict[str, Any]]:
    """TNS nests per-report feedback as data.feedback.at_report: [{code: {...}}, ...]."""
    data = body.get("data") or {}
    feedback = data.get("feedback", {}) if isinstance(data, dict) else {}
    items = feedback.get("at_report", []) if isinstance(feedback, dict) else []
    return [item for item in items if isinstance(item, dict)]


def _name_from_feedback(feedback: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    for item in feedback:
        for code, detail in item.items():
            if code in ACCEPTED_FEEDBACK and isinstance(detail, dict) and detail.get("objname"):
                return str(detail["objname"]), detail.get("prefix") or detail.get("name_prefix")
    return None, None
