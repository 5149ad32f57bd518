"""API fixtures: stores of real alerts (SQLite, PostgreSQL), the app over each, on loopback."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from api_live import serve_app
from api_store_builder import alert_files, replay_into_store

from classifier_service.alert import Alert
from classifier_service.api import create_app
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def real_alerts(shared_data: Path) -> list[Alert]:
    """The replayed alerts, parsed, for comparing what the API serves with what came in."""
    return [parse_record(record) for path in alert_files(shared_data)
            for record in iter_records(path.read_bytes())]


@pytest.fixture(scope="session")
def store_url(shared_data, tmp_path_factory) -> str:
    """A SQLite store the Worker filled from real alerts."""
    url = f"sqlite:///{tmp_path_factory.mktemp('api_store') / 'store.sqlite3'}"
    replay_into_store(url, alert_files(shared_data))
    return url


@pytest.fixture(scope="session")
def app(store_url):
    return create_app(store_url)


@pytest.fixture(scope="session")
def live_url(app) -> Iterator[str]:
    """The base URL of the API served by uvicorn on a free loopback port."""
    yield from serve_app(app)


@pytest.fixture(scope="session")
def client(live_url) -> Iterator[httpx.Client]:
    """HTTP to the live API, paths relative to its root."""
    with httpx.Client(base_url=live_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def pg_url(shared_data) -> Iterator[str]:
    """A throwaway database on the local PostgreSQL, filled by the Worker, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    name = f"api_test_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 (no server, no rights: nothing to test against)
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES} is not usable: {exc}")
    url = f"{POSTGRES}/{name}"
    try:
        replay_into_store(url, alert_files(shared_data))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_client(pg_url) -> Iterator[httpx.Client]:
    """HTTP to the API served over the PostgreSQL store."""
    app = create_app(pg_url)
    with contextmanager(serve_app)(app) as base_url, httpx.Client(base_url=base_url,
                                                                  timeout=30) as http:
        yield http
    app.state.engine.dispose()
