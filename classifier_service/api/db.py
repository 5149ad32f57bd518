"""A read-only, time-bounded SQLAlchemy engine over the store, for the API and nothing else.

The API never writes: SQLite is opened with ``mode=ro`` and PostgreSQL sessions are
read-only transactions, so a bug here cannot damage what the pipeline stored.

Every statement has a deadline (PostgreSQL ``statement_timeout``; on SQLite a progress
handler that interrupts the query), every pool checkout a timeout, and the pool is as
large as the number of requests the admission gate lets run at once, so a request
never waits for a connection another request holds.
"""
from __future__ import annotations

import argparse
import math
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from classifier_service.settings import (
    CommandError,
    EnvValue,
    converter,
    non_negative_int,
    positive_float,
    positive_int,
)
from classifier_service.store import database_url

# SQL functions the cone search uses; PostgreSQL has them, some SQLite builds lack them.
_SQLITE_MATH = {"sin": math.sin, "cos": math.cos, "radians": math.radians}
# SQLite calls the progress handler every this many virtual-machine instructions.
_SQLITE_PROGRESS_STEPS = 10_000


@converter
def _seconds(text: str) -> float:
    """A finite number of seconds more than 0 (an endless limit is none, and PostgreSQL's
    statement_timeout takes no infinity)."""
    value = positive_float(text)
    if math.isinf(value):
        raise ValueError("must be a finite number of seconds")
    return value


# Each limit's variable and the range the gate and the pool can work with.
_LIMIT_VARIABLES = {
    "concurrency": ("ALERCE_API_CONCURRENCY", positive_int),  # 0: no request could ever run
    "queue": ("ALERCE_API_QUEUE", non_negative_int),  # 0: no waiting room, busy at once
    # 0 would time out even a free slot: asyncio.wait_for(..., 0) gives up before acquiring.
    "queue_wait_s": ("ALERCE_API_QUEUE_WAIT", _seconds),
    "statement_timeout_s": ("ALERCE_API_STATEMENT_TIMEOUT", _seconds),  # 0: every statement cancelled
}


@dataclass(frozen=True, slots=True)
class Limits:
    """How much work the API takes on at once, and how long any piece of it may take.

    ``concurrency`` requests run at once, each with its own pooled connection; up to
    ``queue`` more wait for at most ``queue_wait_s``; everything beyond is answered 503
    at once with ``Retry-After``. A statement running longer than ``statement_timeout_s``
    is cancelled (503), so a slow query cannot hold its connection for ever.
    """

    # Together these bound a request's time in the server to about 5 s (wait, then statements).
    concurrency: int = 8
    queue: int = 64
    queue_wait_s: float = 2.0
    statement_timeout_s: float = 3.0
    pool_timeout_s: float = 5.0
    retry_after_s: int = 1

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, overridden by ALERCE_API_CONCURRENCY, ALERCE_API_QUEUE,
        ALERCE_API_QUEUE_WAIT and ALERCE_API_STATEMENT_TIMEOUT (seconds) where set.

        A value out of its range is a CommandError naming the variable: a server started with
        it would answer every request 503 (or never time a statement out) instead of failing.
        """
        values = {}
        for field, (variable, convert) in _LIMIT_VARIABLES.items():
            if raw := os.environ.get(variable):
                try:
                    values[field] = convert(EnvValue(raw, variable))
                except argparse.ArgumentTypeError as exc:
                    raise CommandError(str(exc)) from None
        return cls(**values)


def read_only_engine(url: str, limits: Limits = Limits()) -> Engine:
    """An engine that can only read the store at ``url`` (sqlite or postgresql)."""
    parsed = make_url(database_url(url))
    pool = {"poolclass": QueuePool, "pool_size": limits.concurrency, "max_overflow": 0,
            "pool_timeout": limits.pool_timeout_s}
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed.database, limits, pool)
    if parsed.get_backend_name() == "postgresql":
        # Rounded up: 0 ms would switch PostgreSQL's timeouts off.
        timeout_ms = math.ceil(limits.statement_timeout_s * 1000)
        options = (f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} "
                   f"-c idle_in_transaction_session_timeout={4 * timeout_ms}")
        engine = create_engine(parsed, pool_pre_ping=True, **pool, connect_args={
            "options": options, "connect_timeout": max(1, math.ceil(limits.pool_timeout_s))})
        return engine.execution_options(postgresql_readonly=True)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:/// or postgresql://")


def _sqlite_engine(path: str | None, limits: Limits, pool: dict) -> Engine:
    if not path or path == ":memory:":
        raise CommandError("the API serves an existing SQLite file, not an in-memory database")
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    timeout = limits.statement_timeout_s

    def connect() -> sqlite3.Connection:
        # ``timeout`` is SQLite's busy timeout: how long to wait for the worker's write lock.
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=timeout)

    engine = create_engine("sqlite://", creator=connect, **pool)
    event.listen(engine, "connect", _add_missing_math_functions)
    event.listen(engine, "connect", _install_deadline)
    event.listen(engine, "checkout", lambda _c, record, _p: _deadline(record).start(timeout))
    event.listen(engine, "checkin", lambda _c, record: _deadline(record).clear())
    return engine


class _Deadline:
    """When the statements of the current checkout must have finished (SQLite)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = math.inf

    def start(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def clear(self) -> None:
        self.at = math.inf

    def passed(self) -> bool:
        """SQLite's progress handler: a true answer interrupts the running statement."""
        return time.monotonic() > self.at


def _deadline(record) -> _Deadline:
    return record.info["deadline"]


def _install_deadline(dbapi_connection: sqlite3.Connection, record) -> None:
    deadline = record.info["deadline"] = _Deadline()
    dbapi_connection.set_progress_handler(deadline.passed, _SQLITE_PROGRESS_STEPS)


def _add_missing_math_functions(dbapi_connection: sqlite3.Connection, _record) -> None:
    try:
        dbapi_connection.execute("SELECT sin(0), cos(0), radians(0)").fetchone()
    except sqlite3.OperationalError:
        for name, function in _SQLITE_MATH.items():
            dbapi_connection.create_function(name, 1, function, deterministic=True)


async def store(request: Request) -> Engine:
    """The app's engine (a FastAPI dependency; ``async``, so it needs no thread).

    Routes are plain functions that FastAPI runs in its thread pool and open their
    connection with ``with engine.connect()`` inside that one call: the connection goes
    back to the pool without another thread, whereas a ``yield`` dependency's teardown
    needs one, and under load none is left to run it.
    """
    return request.app.state.engine
