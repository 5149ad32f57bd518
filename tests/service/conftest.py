"""Fixtures of the pipeline tests: a store on SQLite and on PostgreSQL, table checksums, and
Rubin's wire-format messages with a schema registry on loopback that serves their schema."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from pathlib import Path

import fastavro
import pytest
from sqlalchemy import create_engine, inspect, select, text

from classifier_service.store import Store, database_url, tables
from classifier_service.stream.base import RawMessage
from tests.facilities.loopback import LoopbackServer, QuietJSONHandler
from tests.service.registry_standin import OTHER_SCHEMA_ID, RUBIN_AVRO, SCHEMA_ID, wire_message

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def _fresh_postgres_database():
    """Create a throw-away database; yields its URL, drops it afterwards."""
    admin = create_engine(database_url(f"{POSTGRES}/test"), isolation_level="AUTOCOMMIT")
    name = f"pipeline_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 (any connection failure)
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable: {exc}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database():
    """One throw-away PostgreSQL database for the session (tests empty it after use)."""
    yield from _fresh_postgres_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path: Path):
    """The URL of an empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'alerce.sqlite3'}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    engine = create_engine(database_url(url))
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in tables.metadata.sorted_tables
                          if inspect(conn).has_table(t.name))
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture
def store(store_url: str):
    store = Store(store_url)
    store.create_all()
    yield store
    store.dispose()


def table_checksums(store: Store) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row (ordered by primary key) of every table."""
    out = {}
    with store.engine.connect() as conn:
        for name, table in tables.metadata.tables.items():
            columns = [c for c in table.columns if c.name not in ("id", "created")]
            order = [c for c in table.primary_key.columns if c.name != "id"] or columns[:2]
            rows = conn.execute(select(*columns).order_by(*order)).all()
            out[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


@pytest.fixture(scope="module")
def rubin(shared_data: Path) -> tuple[dict, list[dict]]:
    """The real Rubin file's writer schema and records, read in place."""
    with open(shared_data / RUBIN_AVRO, "rb") as handle:
        reader = fastavro.reader(handle)
        return reader.writer_schema, list(reader)


@pytest.fixture
def wire_messages(rubin) -> list[RawMessage]:
    """The real Rubin alerts as Rubin's live stream sends them, one Kafka message each."""
    schema, records = rubin
    return [RawMessage(wire_message(schema, SCHEMA_ID, record), source=f"rubin/0/{k}")
            for k, record in enumerate(records)]


@pytest.fixture
def registry_server(rubin):
    """A Confluent schema registry on loopback that counts the requests for each id."""
    schema_text = json.dumps(rubin[0])
    requests_by_id: Counter = Counter()

    class Handler(QuietJSONHandler):
        def do_GET(self) -> None:
            prefix = "/schemas/ids/"
            schema_id = int(self.path[len(prefix):]) if self.path.startswith(prefix) else None
            requests_by_id[schema_id] += 1
            if schema_id in (SCHEMA_ID, OTHER_SCHEMA_ID):
                self.send_json(200, {"schema": schema_text})
            else:
                self.send_json(404, {"error_code": 40403, "message": "Schema not found"})

    with LoopbackServer(Handler) as server:
        server.requests_by_id = requests_by_id
        yield server
