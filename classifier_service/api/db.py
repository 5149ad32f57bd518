"""A read-only SQLAlchemy engine over the store, for the API and nothing else.

The API never writes: SQLite is opened with ``mode=ro`` and PostgreSQL sessions are
read-only transactions, so a bug here cannot damage what the pipeline stored.
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from classifier_service.store import database_url

# SQL functions the cone search uses; PostgreSQL has them, some SQLite builds lack them.
_SQLITE_MATH = {"sin": math.sin, "cos": math.cos, "radians": math.radians}


def read_only_engine(url: str) -> Engine:
    """An engine that can only read the store at ``url`` (sqlite or postgresql)."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed.database)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_pre_ping=True)
        return engine.execution_options(postgresql_readonly=True)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:/// or postgresql://")


def _sqlite_engine(path: str | None) -> Engine:
    if not path or path == ":memory:":
        raise ValueError("the API serves an existing SQLite file, not an in-memory database")
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    engine = create_engine(
        "sqlite://", poolclass=QueuePool,
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
    )
    event.listen(engine, "connect", _add_missing_math_functions)
    return engine


def _add_missing_math_functions(dbapi_connection: sqlite3.Connection, _record) -> None:
    try:
        dbapi_connection.execute("SELECT sin(0), cos(0), radians(0)").fetchone()
    except sqlite3.OperationalError:
        for name, function in _SQLITE_MATH.items():
            dbapi_connection.create_function(name, 1, function, deterministic=True)


def connection(request: Request) -> Iterator[Connection]:
    """One pooled connection per request (a FastAPI dependency)."""
    with request.app.state.engine.connect() as conn:
        yield conn
