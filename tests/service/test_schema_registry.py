"""Rubin's live stream: Confluent wire-format messages decoded with a schema registry.

A loopback stand-in of a Confluent schema registry serves the writer schema of the real
Rubin file (lsst.v10_0, as Fink redistributes it); its records, re-encoded as wire-format
messages (zero byte, 4-byte schema id, bare record), decode and store exactly as the
container copies do. A registry that is down, an id it does not know, or no registry at
all turns the message into a decode dead letter with its raw bytes; the run goes on.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from classifier_service.commands import replay, run
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import RawMessage
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records, single_record_prefix, split_records
from classifier_service.surveys.base import AlertParseError
from classifier_service.surveys.history_layout import history_identity
from classifier_service.surveys.known_history import decode_batch
from classifier_service.surveys.registry import SchemaRegistry, SchemaRegistryError
from classifier_service.worker import Worker
from tests.service.conftest import table_checksums
from tests.service.registry_standin import (
    OTHER_SCHEMA_ID,
    RUBIN_AVRO,
    SCHEMA_ID,
    UNKNOWN_SCHEMA_ID,
    closed_port_url,
    wire_message,
)


@contextmanager
def store_at(path: Path) -> Iterator[Store]:
    """An empty SQLite store for the duration of a ``with`` block."""
    store = Store(f"sqlite:///{path}")
    store.create_all()
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with store_at(tmp_path / "wire.sqlite3") as store:
        yield store


def worker(store: Store, registry: SchemaRegistry | None = None) -> Worker:
    """A worker whose batches the tests hand to ``process`` themselves."""
    return Worker(ArchiveSource([]), store, schema_registry=registry)


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.n_gets = 0

    def get(self, *args, **kwargs):
        self.n_gets += 1
        return super().get(*args, **kwargs)


def test_wire_format_rubin_alerts_decode_and_parse_as_their_container_copies(
        shared_data, rubin, wire_messages, registry_server):
    registry = SchemaRegistry(registry_server.url)
    container_records = list(iter_records((shared_data / RUBIN_AVRO).read_bytes()))
    wire_records = [record for message in wire_messages
                    for record in iter_records(message.payload, registry)]
    assert len(wire_records) == len(container_records) == 7
    assert repr(wire_records) == repr(container_records)  # NaN-safe equality
    wire_alerts = [parse_record(record) for record in wire_records]
    assert repr(wire_alerts) == repr([parse_record(record) for record in container_records])
    assert {alert.survey for alert in wire_alerts} == {"LSST"}


def test_the_worker_stores_wire_format_messages_exactly_as_the_container_file(
        shared_data, wire_messages, registry_server, sqlite_store, tmp_path):
    registry = SchemaRegistry(registry_server.url)
    report = worker(sqlite_store, registry).process(wire_messages)
    assert report.n_alerts == 7 and report.n_dead_letters == 0
    with store_at(tmp_path / "container.sqlite3") as from_container:
        worker(from_container).process(list(ArchiveSource([shared_data / RUBIN_AVRO]).messages()))
        assert table_checksums(sqlite_store) == table_checksums(from_container)
    assert sqlite_store.row_counts()["detection"] > 0


def test_wire_format_messages_of_stored_objects_are_read_without_their_stored_history(
        wire_messages, registry_server, sqlite_store, tmp_path):
    """The live stream's messages take the decoder's skip: who each is about comes from its
    prefix, and the entries stored for that object are never built; the store ends the same."""
    registry = SchemaRegistry(registry_server.url)
    payloads = [message.payload for message in wire_messages]
    worker(sqlite_store, registry).process(wire_messages)
    whole = [r for records in decode_batch(payloads, registry=registry) for r in records]
    told = [history_identity(single_record_prefix(payload, registry)) for payload in payloads]
    assert [identity is not None for identity in told] == [bool(r["diaSource"]["diaObjectId"]) for r in whole]
    assert sum(identity is not None for identity in told) == 5  # two are solar-system sources

    known = [r for records in decode_batch(payloads, sqlite_store, registry) for r in records]
    assert sum(len(r["prvDiaSources"] or ()) for r in known) < sum(len(r["prvDiaSources"] or ()) for r in whole)
    assert sum(len(r["prvDiaForcedSources"] or ()) for r in known) < sum(len(r["prvDiaForcedSources"] or ()) for r in whole)
    before = table_checksums(sqlite_store)
    assert worker(sqlite_store, registry).process(wire_messages).n_dead_letters == 0
    assert table_checksums(sqlite_store) == before


def test_the_registry_is_asked_once_per_schema_id(rubin, wire_messages, registry_server, sqlite_store):
    schema, records = rubin
    other = RawMessage(wire_message(schema, OTHER_SCHEMA_ID, records[0]), source="rubin/1/0")
    running = worker(sqlite_store, SchemaRegistry(registry_server.url))
    running.process(wire_messages + [other])
    running.process(wire_messages)
    assert registry_server.requests_by_id == {SCHEMA_ID: 1, OTHER_SCHEMA_ID: 1}


def test_an_unknown_schema_id_becomes_a_decode_dead_letter_with_the_raw_bytes(
        rubin, wire_messages, registry_server, sqlite_store):
    schema, records = rubin
    unknown = RawMessage(wire_message(schema, UNKNOWN_SCHEMA_ID, records[0]), source="rubin/0/99")
    report = worker(sqlite_store, SchemaRegistry(registry_server.url)).process([unknown, *wire_messages])
    assert report.n_alerts == 7
    [letter] = report.dead_letters
    assert letter.stage == "decode" and letter.payload == unknown.payload and letter.source == "rubin/0/99"
    assert f"schema id {UNKNOWN_SCHEMA_ID} is unknown to the registry" in letter.reason
    assert sqlite_store.row_counts()["dead_letter"] == 1


def test_an_unreachable_registry_turns_each_message_into_a_decode_dead_letter_and_is_asked_once(
        wire_messages, sqlite_store):
    url, session = closed_port_url(), CountingSession()
    report = worker(sqlite_store, SchemaRegistry(url, session=session)).process(wire_messages)
    assert session.n_gets == 1  # the failure is remembered for the rest of the batch
    assert report.n_alerts == 0 and len(report.dead_letters) == 7
    assert [letter.payload for letter in report.dead_letters] == [m.payload for m in wire_messages]
    assert {letter.stage for letter in report.dead_letters} == {"decode"}
    assert all(f"schema registry unreachable at {url}/schemas/ids/{SCHEMA_ID}" in letter.reason
               for letter in report.dead_letters)


def test_a_failed_fetch_is_retried_later_and_a_fetched_schema_is_kept(registry_server):
    registry = SchemaRegistry(registry_server.url, retry_after_s=0.0)
    for _ in range(2):
        with pytest.raises(SchemaRegistryError, match="unknown"):
            registry.schema(UNKNOWN_SCHEMA_ID)
    assert registry_server.requests_by_id[UNKNOWN_SCHEMA_ID] == 2
    assert registry.schema(SCHEMA_ID) is registry.schema(SCHEMA_ID)
    assert registry_server.requests_by_id[SCHEMA_ID] == 1


def test_wire_format_without_a_configured_registry_is_a_dead_letter_that_names_the_flag(
        wire_messages, sqlite_store):
    report = worker(sqlite_store).process(wire_messages[:1])
    [letter] = report.dead_letters
    assert letter.stage == "decode" and "--schema-registry" in letter.reason
    assert f"schema id {SCHEMA_ID}" in letter.reason


def test_truncated_or_overlong_wire_records_are_clear_parse_errors(wire_messages, registry_server):
    registry = SchemaRegistry(registry_server.url)
    payload = wire_messages[0].payload
    with pytest.raises(AlertParseError, match="corrupt Avro record"):
        list(iter_records(payload[:len(payload) // 2], registry))
    with pytest.raises(AlertParseError, match="3 bytes left over"):
        list(iter_records(payload + b"xyz", registry))
    with pytest.raises(AlertParseError, match="no schema id"):
        list(iter_records(b"\x00\x00\x03", registry))


def test_ztf_containers_still_decode_as_before_and_never_ask_the_registry(
        shared_data, registry_server, sqlite_store):
    batch = list(ArchiveSource([shared_data / "ztf_alerts/fink-client/single"]).messages())
    registry = SchemaRegistry(registry_server.url)
    assert [repr(list(iter_records(m.payload, registry))) for m in batch] == \
        [repr(list(iter_records(m.payload))) for m in batch]
    report = worker(sqlite_store, registry).process(batch)
    assert report.n_alerts == 8 and report.n_dead_letters == 0
    assert not registry_server.requests_by_id


def test_a_wire_format_message_is_its_own_single_record_message(wire_messages):
    assert list(split_records(wire_messages[0].payload)) == [wire_messages[0].payload]


def test_run_and_replay_take_the_registry_url_from_the_flag_or_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.avro").write_bytes(b"")  # replay checks that its paths exist
    for command in (run, replay):
        monkeypatch.setenv("ALERCE_SCHEMA_REGISTRY", "http://registry.example:8081")
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        required = ["x.avro"] if command is replay else []
        assert parser.parse_args(required).schema_registry == "http://registry.example:8081"
        assert parser.parse_args([*required, "--schema-registry", "http://other:8081"]).schema_registry \
            == "http://other:8081"


def test_replay_stores_files_of_saved_wire_format_messages(
        rubin, registry_server, tmp_path, capsys):
    schema, records = rubin
    for k, record in enumerate(records):
        (tmp_path / f"rubin-{k}.avro").write_bytes(wire_message(schema, SCHEMA_ID, record))
    db = f"sqlite:///{tmp_path / 'replay.sqlite3'}"
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    args = parser.parse_args([str(tmp_path), "--db", db, "--no-classify",
                              "--schema-registry", registry_server.url])
    assert replay.run(args) == 0
    out = capsys.readouterr().out
    assert "alerts processed: 7" in out and "dead letters: 0" in out
