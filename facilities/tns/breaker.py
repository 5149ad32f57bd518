"""A circuit breaker for automatic TNS reporting: one TNS outage must not stall the stream.

Automatic reports are made from the stream listener's hook, and a call to a TNS that is down
or hanging holds the listener for up to deadline_s + read_timeout_s (~40 s): on a busy night,
every qualifying alert would. So once an automatic report finds TNS failing — what the client
raises as TNSUnavailable: a connection error, a time-out, a 5xx, a 429, an answer that is not
TNS's — automatic reports call TNS no more for ``outage_cooldown_s`` (DATA_SERVICES['TNS'],
default 300 s; 0 turns the breaker off), or until TNS's rate limit resets if that is later.
A decision to report made meanwhile is recorded as not reported, saying when TNS failed, how,
and when it is tried again; the target is reconsidered on its next alert. A refusal (4xx) of
one report is about that report: it opens nothing.

The state is one :class:`~facilities.models.TNSOutage` row per TNS instance, so every listener
and web worker of the TOM sees it. After the cool-down one caller claims the next try (a
conditional UPDATE, as uploads are claimed) and the others wait on: TNS answering it deletes
the row, another failure starts a new cool-down. Manual reports and ``tns_poll`` neither wait
for it nor change it: a person asked, and the poller does not hold up the stream.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from facilities.models import TNSOutage
from facilities.tns.client import RateLimited, TNSClient, TNSError, TNSUnavailable
from facilities.tns.service import client_from_settings, tns_settings

log = logging.getLogger(__name__)

OUTAGE_COOLDOWN_S = 300.0  # a few minutes: TNS restarts and network blips are over by then


def cooldown_s() -> float:
    return float(tns_settings().get("outage_cooldown_s", OUTAGE_COOLDOWN_S))


def current_outage(now: datetime | None = None) -> TNSOutage | None:
    """The outage automatic reports are waiting out now, if any (what the TNS tab can show)."""
    return TNSOutage.objects.filter(base_url=_base_url(), retry_at__gt=now or _now()).first()


def outage_to_wait_out(now: datetime | None = None) -> TNSOutage | None:
    """The outage an automatic report waits out instead of calling TNS; None when it may call TNS:
    no outage, or the cool-down is over and this caller claimed the one next try."""
    now = now or _now()
    tries = TNSOutage.objects.filter(base_url=_base_url(), retry_at__lte=now)
    if tries.update(retry_at=now + timedelta(seconds=cooldown_s())):
        return None
    return current_outage(now)


@contextmanager
def watched_client() -> Iterator[TNSClient | None]:
    """The client of one automatic report; what its calls say of TNS goes to :func:`record`.
    None when TNS is not configured (``submit_report`` records why nothing was sent)."""
    try:
        client = client_from_settings()
    except TNSError:
        yield None
        return
    started = _now()
    try:
        yield client
    finally:
        record(client, started)


def record(client: TNSClient, started: datetime) -> None:
    """A failure of TNS (re)opens the breaker; TNS answering every call closes it, unless another
    report found TNS failing since this one ``started``; a report that never called TNS says nothing."""
    if client.failures:
        failure = client.failures[-1]
        retry_at = _retry_at(failure)
        TNSOutage.objects.update_or_create(base_url=_base_url(), defaults={
            "failed_at": failure.at, "reason": str(failure), "retry_at": retry_at})
        log.warning("TNS failed an automatic report (%s); automatic reports wait until %s UTC", failure,
                    _utc(retry_at))
    elif client.answers:
        TNSOutage.objects.filter(base_url=_base_url(), failed_at__lt=started).delete()


def describe(outage: TNSOutage) -> str:
    """When TNS failed, how, and when automatic reports try it again."""
    return (f"TNS failed at {_utc(outage.failed_at)} UTC ({outage.reason}); automatic reports try it "
            f"again from {_utc(outage.retry_at)} UTC")


def waiting_reason(outage: TNSOutage, qualified: str) -> str:
    """The decision of a policy that would report a target during an outage."""
    return (f"not sent, TNS outage: {describe(outage)}, and this target is reconsidered on its next "
            f"alert after that (it qualifies: {qualified})")


def outage_notice() -> str | None:
    """What the TNS tab can say while automatic reports wait: a report made by hand is still tried."""
    outage = current_outage()
    return f"{describe(outage)}. A report made here is still sent." if outage else None


def _retry_at(failure: TNSUnavailable) -> datetime:
    """The end of the cool-down, or of TNS's rate limit if that is later."""
    retry_at = failure.at + timedelta(seconds=cooldown_s())
    return max(retry_at, failure.until) if isinstance(failure, RateLimited) else retry_at


def _base_url() -> str:
    return tns_settings()["base_url"].rstrip("/")


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}"


def _now() -> datetime:
    return datetime.now(timezone.utc)
