"""``alerce-classifier serve``: its options, the client config it writes, a store that fails,
and the mistakes it refuses to start with (one line on stderr, exit status 2, nothing served)."""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from api_live import free_port, serve_in_thread

from classifier_service.bench.api_load import serving
from classifier_service.commands import serve
from tests.realstack import copy_store

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"


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


def test_a_store_that_breaks_while_serving_is_503_and_logged(store_url, tmp_path, caplog):
    url = copy_store(Path(store_url.removeprefix("sqlite:///")), tmp_path)
    args = parse("--db", url, "--port", str(free_port()))
    with contextmanager(serve_in_thread)(serve.build_server(args)) as base_url:
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as writer:
            writer.execute("DROP TABLE object")
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


def test_a_queue_of_0_serves_without_a_waiting_room(store_url, monkeypatch):
    """ALERCE_API_QUEUE=0 is meaningful (a request finding every slot taken is 503 at once), so
    it is accepted; the other limits must be more than 0."""
    monkeypatch.setenv("ALERCE_API_QUEUE", "0")
    args = parse("--db", store_url, "--port", str(free_port()))
    with contextmanager(serve_in_thread)(serve.build_server(args)) as base_url:
        assert httpx.get(f"{base_url}/ztf/v1/classifiers").status_code == 200


# --- Mistakes: each `serve` is a real process, all started at once -------------------------

@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", free_port()))
        other.listen()
        yield other.getsockname()[1]


@pytest.fixture(scope="module")
def not_stores(tmp_path_factory) -> Path:
    """A folder holding a text file and a SQLite database of another program, and nothing else."""
    folder = tmp_path_factory.mktemp("not_stores")
    (folder / "notes.txt").write_text("not a database\n")
    with closing(sqlite3.connect(folder / "other.sqlite3")) as other:
        other.execute("CREATE TABLE other (x)")
    return folder


@pytest.fixture(scope="module")
def mistakes(store_url, taken_port, not_stores) -> dict[str, subprocess.CompletedProcess]:
    """``serve`` with each mistake, on a free port (a good store unless the store is the mistake)."""
    folder = not_stores
    cases = {
        "concurrency not a number": ([], {"ALERCE_API_CONCURRENCY": "abc"}),
        "queue wait not a number": ([], {"ALERCE_API_QUEUE_WAIT": "x"}),
        "concurrency 0": ([], {"ALERCE_API_CONCURRENCY": "0"}),
        "negative queue": ([], {"ALERCE_API_QUEUE": "-3"}),
        "negative queue wait": ([], {"ALERCE_API_QUEUE_WAIT": "-1"}),
        "negative statement timeout": ([], {"ALERCE_API_STATEMENT_TIMEOUT": "-1"}),
        "endless statement timeout": ([], {"ALERCE_API_STATEMENT_TIMEOUT": "inf"}),
        "bad limit with workers": (["--workers", "2"], {"ALERCE_API_CONCURRENCY": "0"}),
        "missing file": (["--db", f"sqlite:///{folder / 'typo.db'}"], {}),
        "missing folder": (["--db", f"sqlite:///{folder / 'no' / 'such' / 'store.db'}"], {}),
        "missing file with workers": (["--db", f"sqlite:///{folder / 'typo.db'}", "--workers", "2"], {}),
        "text file": (["--db", f"sqlite:///{folder / 'notes.txt'}"], {}),
        "database without the schema": (["--db", f"sqlite:///{folder / 'other.sqlite3'}"], {}),
        "port in use": (["--port", str(taken_port)], {}),
        "port in use with workers": (["--port", str(taken_port), "--workers", "2"], {}),
        "bad host": (["--host", "999.1.1.1"], {}),
    }
    running = {}
    for name, (argv, extra) in cases.items():
        command = [sys.executable, "-m", "classifier_service.cli", "serve", "--db", store_url,
                   "--port", str(free_port()), *argv]
        running[name] = subprocess.Popen(command, env={**os.environ, **extra}, text=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    for name, process in running.items():
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # it served instead of refusing
            process.kill()
            out, err = process.communicate()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def refused(result: subprocess.CompletedProcess) -> str:
    """The one line a refused ``serve`` wrote, after checking it served nothing and exited 2."""
    lines = result.stderr.splitlines()
    assert (result.returncode, len(lines)) == (2, 1), result.stderr
    assert "serving" not in result.stderr and "Traceback" not in result.stderr
    assert lines[0].startswith("alerce-classifier serve: error: ")
    return lines[0]


@pytest.mark.parametrize(("case", "says"), [
    ("concurrency not a number", "ALERCE_API_CONCURRENCY='abc': not a whole number"),
    ("queue wait not a number", "ALERCE_API_QUEUE_WAIT='x': not a number"),
])
def test_a_limit_that_is_not_a_number_is_one_line_naming_the_variable(mistakes, case, says):
    assert says in refused(mistakes[case])


@pytest.mark.parametrize(("case", "says"), [
    ("concurrency 0", "ALERCE_API_CONCURRENCY='0': must be 1 or more"),
    ("negative queue", "ALERCE_API_QUEUE='-3': must be 0 or more"),
    ("negative queue wait", "ALERCE_API_QUEUE_WAIT='-1': must be more than 0"),
    ("negative statement timeout", "ALERCE_API_STATEMENT_TIMEOUT='-1': must be more than 0"),
    ("endless statement timeout", "ALERCE_API_STATEMENT_TIMEOUT='inf': must be a finite number of seconds"),
    ("bad limit with workers", "ALERCE_API_CONCURRENCY='0': must be 1 or more"),
])
def test_a_limit_out_of_its_range_is_one_line_saying_the_range(mistakes, case, says):
    """Concurrency 0 or a wait of 0 would answer every request 503; a statement timeout of 0
    would cancel every statement (on PostgreSQL: switch the timeout off)."""
    assert says in refused(mistakes[case])


@pytest.mark.parametrize("case", ["missing file", "missing folder", "missing file with workers"])
def test_a_store_path_that_does_not_exist_is_one_line_naming_it_and_no_file_is_created(mistakes, not_stores,
                                                                                          case):
    line = refused(mistakes[case])
    assert f"there is no store at sqlite:///{not_stores}/" in line and ": no such file; " in line
    assert "`alerce-classifier replay PATH... --db sqlite:///" in line
    assert sorted(p.name for p in not_stores.iterdir()) == ["notes.txt", "other.sqlite3"]


def test_a_file_that_is_not_a_sqlite_database_is_no_store(mistakes):
    line = refused(mistakes["text file"])
    assert "notes.txt: not a SQLite database; `alerce-classifier replay" in line


def test_a_sqlite_database_without_the_stores_tables_is_no_store(mistakes):
    line = refused(mistakes["database without the schema"])
    assert "other.sqlite3: the database has none of the store's tables; `alerce-classifier replay" in line


@pytest.mark.postgres
def test_a_postgresql_database_without_the_stores_tables_is_no_store():
    """PostgreSQL's own database, ``postgres``, is reachable and holds no store."""
    url = f"{POSTGRES}/postgres"
    done = subprocess.run([sys.executable, "-m", "classifier_service.cli", "serve", "--db", url,
                           "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    if "cannot open the database" in done.stderr:
        pytest.skip(f"PostgreSQL at {POSTGRES} is not usable: {done.stderr.strip()}")
    assert f"there is no store at {url}: the database has none of the store's tables" in refused(done)


@pytest.mark.parametrize("case", ["port in use", "port in use with workers"])
def test_a_port_in_use_is_one_line_and_nothing_is_said_to_be_served(mistakes, taken_port, case):
    assert f"cannot listen on 127.0.0.1:{taken_port}: Address already in use" in refused(mistakes[case])


def test_a_host_that_is_no_address_is_one_line(mistakes):
    assert "cannot listen on 999.1.1.1:" in refused(mistakes["bad host"])
