"""A client for the Transient Name Server (TNS) bot API.

TNS identifies a bot by its ``tns_marker`` User-Agent and an api_key sent as form data;
every call answers JSON with ``id_code``/``id_message``/``data``. Reports are bulk
uploads that TNS processes asynchronously: ``bulk-report`` returns a report id, and
``bulk-report-reply`` answers 404 until the report is processed.

The one rule that shapes this module: a report is never sent twice. A time-out or a 5xx
on a report upload may mean TNS got it, so the upload itself is never retried blindly;
the caller first asks TNS (search by internal name) whether the object now exists.
Reads are safe to retry and are.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)

LIVE_URL = "https://www.wis-tns.org"
SANDBOX_URL = "https://sandbox.wis-tns.org"

# Feedback codes of a processed AT report.
FEEDBACK_NEW_OBJECT = "100"
FEEDBACK_ALREADY_EXISTS = "101"
FEEDBACK_PREFIX_CHANGED = "121"
ACCEPTED_FEEDBACK = {FEEDBACK_NEW_OBJECT, FEEDBACK_ALREADY_EXISTS, FEEDBACK_PREFIX_CHANGED}


class TNSError(RuntimeError):
    """TNS answered with an error we cannot act on (bad credentials, rejected data...)."""


class TNSUnavailable(TNSError):
    """TNS did not answer usefully in time (5xx, time-out, rate limit not lifting)."""


class ReportOutcomeUnknown(TNSUnavailable):
    """A report upload failed in a way that may or may not have reached TNS."""


@dataclass(frozen=True)
class TNSCredentials:
    bot_id: str
    bot_name: str
    api_key: str = field(repr=False)  # never logged nor shown

    @property
    def marker(self) -> str:
        return "tns_marker" + json.dumps({"tns_id": str(self.bot_id), "type": "bot", "name": self.bot_name})


@dataclass
class ReportReply:
    """The processed state of a bulk report: None while TNS has not processed it yet."""

    processed: bool
    accepted: bool = False
    feedback: list[dict[str, Any]] = field(default_factory=list)
    objname: str | None = None  # the IAU name without prefix, e.g. "2025abc"
    prefix: str | None = None  # "AT" or "SN"
    codes: list[str] = field(default_factory=list)


class TNSClient:
    """Talks to one TNS instance (live or sandbox) as one bot, politely and safely."""

    def __init__(self, base_url: str, credentials: TNSCredentials, *, timeout_s: float = 30.0,
                 max_retries: int = 4, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_wait_s: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.session = session or requests.Session()
        self.sleep = sleep
        self.max_wait_s = max_wait_s

    # -- the API -----------------------------------------------------------------------
    def send_report(self, at_report: dict[str, Any]) -> str:
        """Upload a bulk AT report; return its report id.

        Only rate limits (429, which TNS answers before reading the report) are retried.
        Anything else that leaves the outcome open raises :class:`ReportOutcomeUnknown`.
        """
        try:
            body = self._post("/api/set/bulk-report", {"data": json.dumps(at_report)}, retry_unavailable=False)
        except TNSUnavailable as exc:
            raise ReportOutcomeUnknown(str(exc)) from exc
        report_id = (body.get("data") or {}).get("report_id")
        if not report_id:
            raise TNSError(f"TNS accepted the upload but returned no report id: {body.get('id_message')}")
        return str(report_id)

    def report_reply(self, report_id: str) -> ReportReply:
        """The feedback of a processed report; ``processed=False`` while TNS answers 404."""
        response = self._request("/api/get/bulk-report-reply", {"report_id": str(report_id)},
                                 retry_unavailable=True, expected=(200, 400, 404))
        if response.status_code == 404:
            return ReportReply(processed=False)
        body = _json(response)
        feedback = _at_report_feedback(body)
        codes = [code for item in feedback for code in item]
        objname, prefix = _name_from_feedback(feedback)
        accepted = response.status_code == 200 and bool(codes) and set(codes) <= ACCEPTED_FEEDBACK
        return ReportReply(processed=True, accepted=accepted, feedback=feedback, objname=objname,
                           prefix=prefix, codes=codes)

    def search(self, *, ra: float | None = None, dec: float | None = None, radius_arcsec: float = 3.0,
               internal_name: str | None = None) -> list[dict[str, Any]]:
        """Objects near a position and/or with an internal name (e.g. a ZTF oid)."""
        query: dict[str, Any] = {}
        if ra is not None and dec is not None:
            query.update(ra=f"{ra:.6f}", dec=f"{dec:.6f}", radius=str(radius_arcsec), units="arcsec")
        if internal_name:
            query["internal_name"] = internal_name
        body = self._post("/api/get/search", {"data": json.dumps(query)}, retry_unavailable=True)
        data = body.get("data") or {}
        return list(data.get("reply", data) if isinstance(data, dict) else data)

    def get_object(self, objname: str) -> dict[str, Any]:
        body = self._post("/api/get/object", {"data": json.dumps({"objname": objname})}, retry_unavailable=True)
        data = body.get("data") or {}
        return data.get("reply", data)

    # -- transport -----------------------------------------------------------------------
    def _post(self, path: str, form: dict[str, Any], *, retry_unavailable: bool) -> dict[str, Any]:
        return _json(self._request(path, form, retry_unavailable=retry_unavailable, expected=(200,)))

    def _request(self, path: str, form: dict[str, Any], *, retry_unavailable: bool,
                 expected: tuple[int, ...]) -> requests.Response:
        url = self.base_url + path
        headers = {"User-Agent": self.credentials.marker}
        data = {"api_key": self.credentials.api_key, **form}
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self.session.post(url, data=data, headers=headers, timeout=self.timeout_s)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if not retry_unavailable or last:
                    raise TNSUnavailable(f"POST {path}: {type(exc).__name__}") from exc
                self._backoff(path, attempt, f"{type(exc).__name__}")
                continue
            self._respect_rate_limit(response)
            if response.status_code == 429:
                if last:
                    raise TNSUnavailable(f"POST {path}: rate limited (429)")
                self._wait_for_reset(response, path)
                continue
            if response.status_code >= 500:
                if not retry_unavailable or last:
                    raise TNSUnavailable(f"POST {path}: HTTP {response.status_code}")
                self._backoff(path, attempt, f"HTTP {response.status_code}")
                continue
            if response.status_code in expected:
                return response
            raise TNSError(f"POST {path}: HTTP {response.status_code}: {_message(response)}")
        raise TNSUnavailable(f"POST {path}: gave up after {self.max_retries + 1} attempts")

    def _respect_rate_limit(self, response: requests.Response) -> None:
        """When the budget is spent, wait for its reset before the next call."""
        remaining = response.headers.get("x-rate-limit-remaining")
        if remaining is not None and remaining.strip() in {"0", "Exhausted"}:
            self._wait_for_reset(response, "next call")

    def _wait_for_reset(self, response: requests.Response, what: str) -> None:
        try:
            wait = float(response.headers.get("x-rate-limit-reset", "10"))
        except ValueError:
            wait = 10.0
        wait = min(max(wait, 0.0) + 1.0, self.max_wait_s)
        log.info("TNS rate limit reached; waiting %.0f s before %s", wait, what)
        self.sleep(wait)

    def _backoff(self, path: str, attempt: int, why: str) -> None:
        wait = min(2.0 ** attempt, self.max_wait_s)
        log.warning("TNS POST %s failed (%s); retrying in %.0f s", path, why, wait)
        self.sleep(wait)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TNSError(f"TNS answered HTTP {response.status_code} with non-JSON content") from exc
    if not isinstance(body, dict):
        raise TNSError("TNS answered with an unexpected JSON document")
    return body


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body.get("id_message") or body.get("data") or body)[:500]
    except ValueError:
        return response.text[:200]


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
