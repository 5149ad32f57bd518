"""API fixtures: a SQLite store of real alerts, the app over it, and a live server on loopback."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_live import serve_app
from api_store_builder import alert_files, replay_into_store

from classifier_service.alert import Alert
from classifier_service.api import create_app
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records


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
