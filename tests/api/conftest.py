"""API fixtures: a SQLite store of real alerts, the app over it, and a live server on loopback."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api_store_builder import fill_store, read_alerts
from classifier_service.alert import Alert
from classifier_service.api import create_app


@pytest.fixture(scope="session")
def real_alerts(shared_data: Path) -> list[Alert]:
    return read_alerts(shared_data)


@pytest.fixture(scope="session")
def store_url(real_alerts, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("api_store") / "store.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    fill_store(engine, real_alerts)
    engine.dispose()
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def app(store_url):
    return create_app(store_url)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_in_thread(server: uvicorn.Server) -> Iterator[str]:
    """Run ``server`` in a daemon thread until the caller is done with its base URL."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    config = server.config
    try:
        yield f"http://{config.host}:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_url(app) -> Iterator[str]:
    """The base URL of the API served by uvicorn on a free loopback port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    yield from serve_in_thread(uvicorn.Server(config))
