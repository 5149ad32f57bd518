"""The API under concurrent clients: the ``serve`` command over the bench store, several clients at once.

bench/api.py times each query alone, in process. A broker's API is not used that way: a
TOM's SN Hunter, its users' target pages and a TNS bot ask at the same time. Here the
server is what users run (``alerce-classifier serve``: uvicorn, its own process, a socket)
and ``clients`` asynchronous clients each walk the benchmark's queries in their own order,
as fast as answers come. Figures: requests per second, p50/p95 over every request, each
query's p95 (the worst named), 503s (past its queue the gate sheds load at once, an
answer a client retries) and dropped connections, counted rather than hidden. The clients
run on the same machine and take their share of its cores, as a TOM on the broker's host would.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

import httpx
import numpy as np
from sqlalchemy import create_engine

from classifier_service.bench.api import QUERIES, Sample, request, sample
from classifier_service.bench.measure import percentile
from classifier_service.store import database_url
from classifier_service.stream.tansu import free_port

READY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0
DROPPED = 0  # the status recorded for a request whose connection failed (reset, closed, timed out)


@contextlib.contextmanager
def serving(url: str, workers: int = 1) -> Iterator[str]:
    """``alerce-classifier serve --db url --workers workers`` on a free local port, until the
    block ends: its base URL. Its log goes to a file (a pipe nobody reads would fill and stop
    the server), whose last line is the reason given if it exits before answering."""
    port = free_port()
    command = [sys.executable, "-m", "classifier_service.cli", "serve", "--db", url,
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_listening(server, base, log)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_listening(server: subprocess.Popen, base: str, log: IO[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            reason = log.read().strip().splitlines()
            raise RuntimeError(f"the API server exited with status {server.returncode}: "
                               f"{reason[-1] if reason else 'no message'}")
        try:
            httpx.get(f"{base}/openapi.json", timeout=5.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"the API server did not answer on {base} within {READY_TIMEOUT_S:.0f} s")


async def _clients(base: str, picked: Sample, clients: int, rounds: int,
                   seed: int) -> tuple[list[tuple[int, float, int]], float]:
    """(query index, seconds, status) of every timed request, and the timed phase's wall seconds."""
    records: list[tuple[int, float, int]] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=REQUEST_TIMEOUT_S) as http:
        for n in range(len(QUERIES)):  # warm-up: each query once, alone
            path, params = request(picked, n, 0)
            await http.get(path, params=params)

        async def client(k: int) -> None:
            order = np.random.default_rng([seed, k])
            for round_ in range(1, rounds + 1):
                for n in order.permutation(len(QUERIES)):
                    path, params = request(picked, int(n), round_ * clients + k)
                    started = time.perf_counter()
                    try:
                        status = (await http.get(path, params=params)).status_code
                    except httpx.TransportError:  # the connection dropped: counted, as a client sees it
                        status = DROPPED
                    records.append((int(n), time.perf_counter() - started, status))

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        return records, time.perf_counter() - started


def measure_under_load(url: str, clients: int, rounds: int = 5, seed: int = 0,
                       workers: int = 1) -> dict[str, Any]:
    """``clients`` clients, each ``rounds`` times through every benchmark query, against a
    store served by ``workers`` processes. A dropped connection is counted (``n_dropped``);
    any answer but 200 or 503 stops the bench with the query that got it."""
    engine = create_engine(database_url(url))
    try:
        picked = sample(engine)
    finally:
        engine.dispose()
    httpx_log = logging.getLogger("httpx")
    level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)  # httpx logs every request at INFO
    try:
        with serving(url, workers) as base:
            records, seconds = asyncio.run(_clients(base, picked, clients, rounds, seed))
    finally:
        httpx_log.setLevel(level)
    unexpected = [(QUERIES[n][0], status) for n, _, status in records if status not in (200, 503, DROPPED)]
    if unexpected:
        raise RuntimeError(f"{unexpected[0][0]}: answered {unexpected[0][1]} under load")
    wall = np.array([s for _, s, _ in records])
    per_query = {f"{n:02d} {QUERIES[n][0]}": 1e3 * percentile(np.array([s for m, s, _ in records if m == n]), 95)
                 for n in range(len(QUERIES))}
    worst = max(per_query, key=per_query.__getitem__)
    return {"clients": clients, "workers": workers, "requests": len(records), "seconds": seconds,
            "requests_per_s": len(records) / seconds,
            "p50_ms": 1e3 * percentile(wall, 50), "p95_ms": 1e3 * percentile(wall, 95),
            "worst_query": worst[3:], "worst_p95_ms": per_query[worst],
            "n_503": sum(status == 503 for _, _, status in records),
            "n_dropped": sum(status == DROPPED for _, _, status in records), "p95_ms_by_query": per_query}
