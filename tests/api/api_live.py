"""Serving an app with uvicorn on a free loopback port, for tests that talk real HTTP."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import uvicorn

from classifier_service.stream.tansu import free_port


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


def serve_app(app) -> Iterator[str]:
    """``serve_in_thread`` for an app on a free port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    yield from serve_in_thread(uvicorn.Server(config))
