"""The API under load: a bounded queue, fast 503s beyond it, no statement without a deadline.

Times are measured and printed (``-s`` shows them), never asserted: what is asserted is
that every request gets an answer, 200 or 503 with ``Retry-After``, and that the server
serves normally right after the burst.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.responses import PlainTextResponse

from classifier_service.api.db import Limits, read_only_engine
from classifier_service.api.gate import Gate

# A mix of the heaviest routes on the test store: a counted, probability-ordered search,
# a whole light curve, and a PNG rendered from the stored FITS.
HEAVY = (
    ("/ztf/v1/objects", {"classifier": "lc_classifier", "order_by": "probability",
                         "order_mode": "DESC", "count": "true", "page_size": 100}),
    ("/ztf/v1/objects/ZTF18abxhyqv/lightcurve", {}),
    ("/get_stamp", {"oid": "ZTF18abfaepq", "candid": 595250711715015021,
                    "type": "difference", "format": "png"}),
)


async def _burst(base_url: str, n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        return await asyncio.gather(*(http.get(path, params=params) for path, params in
                                      (HEAVY[i % len(HEAVY)] for i in range(n))))


def test_500_concurrent_requests_get_200_or_a_fast_503_and_the_server_serves_right_after(
        live_url, client):
    started = time.monotonic()
    responses = asyncio.run(_burst(live_url, 500))
    elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    print(f"\n500 concurrent heavy requests answered in {elapsed:.2f} s: {dict(statuses)}")
    assert set(statuses) <= {200, 503} and statuses[200] > 0
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 503)

    started = time.monotonic()
    after = client.get("/ztf/v1/classifiers")
    print(f"/ztf/v1/classifiers right after: {after.status_code} in "
          f"{(time.monotonic() - started) * 1000:.1f} ms")
    assert after.status_code == 200 and after.json()


# --- the gate, on its own ---------------------------------------------------------------
class HeldApp:
    """An ASGI app whose requests all wait until the test lets them finish."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        await self.release.wait()
        await PlainTextResponse("done")(scope, receive, send)


async def _until(condition) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the gate never reached the expected state")


def test_beyond_the_running_and_queued_requests_the_gate_answers_503_at_once():
    async def scenario():
        app = HeldApp()
        gate = Gate(app, Limits(concurrency=1, queue=1, queue_wait_s=60, retry_after_s=2))
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            running = asyncio.create_task(http.get("/running"))
            await _until(lambda: gate._slots is not None and gate._slots.locked())
            queued = asyncio.create_task(http.get("/queued"))
            await _until(lambda: gate.waiting == 1)
            refused = await http.get("/refused")  # answered while the other two still wait
            app.release.set()
            return refused, await running, await queued

    refused, running, queued = asyncio.run(scenario())
    assert (running.status_code, queued.status_code) == (200, 200)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    assert refused.json()["detail"].startswith("the API is busy")


def test_a_queued_request_waits_a_bounded_time_then_gets_503():
    async def scenario():
        app = HeldApp()
        gate = Gate(app, Limits(concurrency=1, queue=5, queue_wait_s=0.05))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://api") as http:
            running = asyncio.create_task(http.get("/running"))
            await _until(lambda: gate._slots is not None and gate._slots.locked())
            timed_out = await http.get("/queued")
            app.release.set()
            return timed_out, await running

    timed_out, running = asyncio.run(scenario())
    assert (timed_out.status_code, running.status_code) == (503, 200)
    assert timed_out.headers["retry-after"] == "1"


# --- statement deadlines ----------------------------------------------------------------
RUNAWAY_SQLITE = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                  "SELECT count(*) FROM n")


def test_a_runaway_sqlite_statement_is_interrupted_at_its_deadline(store_url):
    engine = read_only_engine(store_url, Limits(statement_timeout_s=0.2))
    started = time.monotonic()
    with engine.connect() as conn, pytest.raises(OperationalError, match="interrupted"):
        conn.execute(text(RUNAWAY_SQLITE))
    print(f"\nSQLite statement interrupted after {time.monotonic() - started:.2f} s")
    with engine.connect() as conn:  # the connection went back to the pool in working order
        assert conn.execute(text("SELECT count(*) FROM object")).scalar_one() > 0
    engine.dispose()


@pytest.mark.postgres
def test_a_runaway_postgres_statement_is_cancelled_at_its_deadline(pg_url):
    engine = read_only_engine(pg_url, Limits(statement_timeout_s=0.2))
    with engine.connect() as conn, pytest.raises(OperationalError, match="statement timeout"):
        conn.execute(text("SELECT pg_sleep(5)"))
    engine.dispose()


def test_limits_come_from_the_environment_where_set(monkeypatch):
    monkeypatch.setenv("ALERCE_API_CONCURRENCY", "20")
    monkeypatch.setenv("ALERCE_API_STATEMENT_TIMEOUT", "0.5")
    monkeypatch.setenv("ALERCE_API_QUEUE", "")
    limits = Limits.from_environment()
    assert (limits.concurrency, limits.statement_timeout_s) == (20, 0.5)
    assert limits.queue == Limits().queue
