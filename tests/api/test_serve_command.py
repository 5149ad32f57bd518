"""``alerce-classifier serve``: its options, the client config it writes, and a store that fails."""
from __future__ import annotations

import argparse
import http.client
import json
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from api_live import free_port, serve_in_thread

from classifier_service.bench.api_load import serving
from classifier_service.commands import serve


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_options_default_from_alerce_environment_variables(monkeypatch):
    monkeypatch.setenv("ALERCE_DB", "sqlite:///elsewhere.sqlite3")
    monkeypatch.setenv("ALERCE_API_PORT", "8123")
    args = parse()
    assert (args.db, args.host, args.port) == ("sqlite:///elsewhere.sqlite3", "127.0.0.1", 8123)


def test_serve_answers_over_http_and_writes_the_client_config(store_url, tmp_path):
    config_path = tmp_path / "alerce.json"
    args = parse("--db", store_url, "--port", str(free_port()), "--client-config", str(config_path))
    with contextmanager(serve_in_thread)(serve.build_server(args)) as base_url:
        assert httpx.get(f"{base_url}/openapi.json").json()["info"]["title"]
        assert httpx.get(f"{base_url}/ztf/v1/objects").json()["items"]
    config = json.loads(config_path.read_text())
    assert config["ztf"]["ZTF_API_URL"] == base_url
    assert config["stamps_ztf"]["AVRO_URL"] == base_url
    assert config["multisurvey"]["URL_MS"] == f"{base_url}/"
    assert config["stamps"]["STAMP_URL"] == f"{base_url}/stamps_api"


def answered_after_idling(base_url: str, idle_s: float) -> bool:
    """Whether a second request on the same connection, ``idle_s`` after the first, is answered."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/ztf/v1/classifiers")
        assert connection.getresponse().read()
        time.sleep(idle_s)
        connection.request("GET", "/ztf/v1/classifiers")
        return connection.getresponse().status == 200
    except (http.client.RemoteDisconnected, ConnectionError):
        return False
    finally:
        connection.close()


@pytest.mark.parametrize(("options", "answered"), [((), True), (("--keep-alive", "0.5"), False)])
def test_an_idle_connection_stays_open_for_the_clients_next_request(store_url, options, answered):
    """uvicorn's own default closed connections idle for 5 s, and under load a client reusing
    one as it closed got a reset; serve keeps them longer than a proxy in front would."""
    args = parse("--db", store_url, "--port", str(free_port()), *options)
    with contextmanager(serve_in_thread)(serve.build_server(args)) as base_url:
        assert answered_after_idling(base_url, idle_s=1.5) is answered
    assert parse().keep_alive == 65


def child_processes(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def serve_process(port: str) -> int:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and port.encode() in argv:
            return int(cmdline.parent.name)
    raise AssertionError(f"no serve process on port {port}")


def test_serve_with_two_workers_answers_every_request_from_two_processes(store_url):
    with serving(store_url, workers=2) as base_url:
        answers = [httpx.get(f"{base_url}/ztf/v1/objects", params={"page": page}) for page in range(1, 9)]
        parent = serve_process(base_url.rsplit(":", 1)[1])
        workers = [pid for pid in child_processes(parent)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert [a.status_code for a in answers] == [200] * 8 and answers[0].json()["items"]
    assert len(workers) == 2


def test_the_client_config_advertises_only_routes_serve_has(app):
    """Every route of every service in the config exists (no get_avro: no packets are kept)."""
    from classifier_service.api import alerce_client_config

    config = alerce_client_config("http://api")
    paths = set(app.openapi()["paths"])

    def served(url: str) -> bool:
        path = url.removeprefix("http://api").replace("%s", "{}")
        return any(_same_shape(path, p) for p in paths)

    advertised = [
        *(config["ztf"]["ZTF_API_URL"] + r for r in config["ztf"]["ZTF_ROUTES"].values()),
        *(config["stamps_ztf"]["AVRO_URL"] + r
          for r in config["stamps_ztf"]["AVRO_ROUTES"].values()),
        *(config["multisurvey"]["URL_MS"] + r for r in config["multisurvey"]["ROUTES_MS"].values()),
        *(config["stamps"]["STAMP_URL"] + r for r in config["stamps"]["AVRO_ROUTES"].values()),
    ]
    assert len(advertised) == 21
    assert [url for url in advertised if not served(url)] == []
    assert "get_avro" not in json.dumps(config)


def _same_shape(path: str, route: str) -> bool:
    """Whether ``path`` (``{}`` for each parameter) matches the route's template."""
    parts, template = path.split("/"), route.split("/")
    return len(parts) == len(template) and all(
        p == t or (p == "{}" and t.startswith("{")) for p, t in zip(parts, template))


def test_a_store_that_cannot_be_read_is_503_and_logged(tmp_path, caplog):
    args = parse("--db", f"sqlite:///{tmp_path / 'missing.sqlite3'}", "--port", str(free_port()))
    with contextmanager(serve_in_thread)(serve.build_server(args)) as base_url:
        response = httpx.get(f"{base_url}/ztf/v1/objects/ZTF18abfaepq")
    assert response.status_code == 503
    assert response.json()["detail"] == "the store is unavailable; try again later"
    assert "store query failed for GET /ztf/v1/objects/ZTF18abfaepq" in caplog.text


def test_the_store_is_opened_read_only(store_url):
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from classifier_service.api.db import read_only_engine

    engine = read_only_engine(store_url)
    with engine.connect() as conn, pytest.raises(OperationalError, match="readonly"):
        conn.execute(text("DELETE FROM object"))
    engine.dispose()
