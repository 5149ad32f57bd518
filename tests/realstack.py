"""Our own services as the tests' backend: a store filled by the real worker (``alerce-classifier
replay`` of simulated and real alerts) and ``alerce-classifier serve`` over it, as processes.

The TOM under test talks to these exactly as it talks to a deployed broker; nothing of our
own API is faked.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import requests

from classifier_service.stream.tansu import free_port

CLI = str(Path(sys.executable).parent / "alerce-classifier")
REAL_ALERTS = "ztf_alerts"  # under the shared data folder: every real ZTF alert we have
SERVE_START_S = 60


def last_night(now_mjd: float) -> float:
    """The demo's night: the last Palomar night that has ended (its alerts are hours old)."""
    from example_tom.demo import last_night_mjd

    return last_night_mjd(now_mjd)


def simulate_night(out: Path, n_alerts: int, seed: int, night_mjd: float) -> Path:
    """``alerce-classifier simulate`` of one night into ``out`` (.avro files)."""
    subprocess.run([CLI, "simulate", "--n-alerts", str(n_alerts), "--seed", str(seed),
                    "--start-mjd", f"{night_mjd:.1f}", "--out", str(out)], check=True, capture_output=True)
    return out


def replay(store_url: str, *paths: Path) -> str:
    """Fill the store with the real worker (decode, light curves, classifiers, dead letters)."""
    result = subprocess.run([CLI, "replay", "--db", store_url, *map(str, paths)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"replay failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return store_url


@pytest.fixture(scope="session")
def real_alerts_store(shared_data: Path, tmp_path_factory) -> Path:
    """A SQLite store the real worker filled from every real ZTF alert, replayed once a session
    (the slow part); each test that needs those alerts serves a copy of it (``copy_store``)."""
    path = tmp_path_factory.mktemp("real_alerts") / "store.sqlite3"
    replay(f"sqlite:///{path}", shared_data / REAL_ALERTS)
    return path


def copy_store(template: Path, folder: Path) -> str:
    """A private copy of a SQLite store (through SQLite's backup, so that its WAL comes along); its URL."""
    path = folder / "store.sqlite3"
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


@contextmanager
def serve(store_url: str, log_path: Path, port: int | None = None) -> Iterator[str]:
    """``alerce-classifier serve`` over the store on a loopback port (``port``, chosen beforehand
    when a TOM is configured with the URL while serve starts, else a free one); yields its base URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen([CLI, "serve", "--db", store_url, "--host", "127.0.0.1", "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVE_START_S
        while True:
            try:
                requests.get(f"{url}/ztf/v1/classifiers", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not come up:\n{log_path.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def all_oids(api_url: str) -> list[str]:
    """Every object the API knows, following its pages."""
    oids, page = [], 1
    while True:
        body = requests.get(f"{api_url}/ztf/v1/objects", params={"page": page, "page_size": 100,
                                                                 "order_by": "oid"}, timeout=30).json()
        oids += [item["oid"] for item in body["items"]]
        if not body.get("has_next") or not body["items"]:
            return oids
        page += 1
