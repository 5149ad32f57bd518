"""``alerce-classifier dead-letters``: what went aside can be seen, taken out whole, and run again.

A dead letter keeps an input's bytes so that nothing is lost while its cause is mended. Here the
causes are real: the five damaged AMPEL files and three unusable stamps among the real ZTF
alerts, and a schema registry that was down while Rubin's live stream came in. The store is
the real one, on SQLite and on PostgreSQL; the registry is a loopback stand-in of Confluent's.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import fastavro
import pytest
from sqlalchemy import select

from classifier_service.cli import main
from classifier_service.store import BatchWrite, Store, tables
from classifier_service.store.rows import DEAD_LETTER_PAYLOAD_BYTES, dead_letter_row
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import DeadLetter, RawMessage
from classifier_service.surveys.registry import SchemaRegistry
from classifier_service.worker import Worker
from tests.service.conftest import table_checksums
from tests.service.registry_standin import closed_port_url

DAMAGED_FILES, UNUSABLE_STAMPS = 5, 3  # among the real ZTF alerts (tests/service/test_replay.py)


def dead_letters(args: list[str], capsys) -> tuple[int, str]:
    status = main(["dead-letters", *args])
    return status, capsys.readouterr().out


def rows(store: Store) -> list[dict]:
    with store.engine.connect() as conn:
        table = tables.dead_letter
        return [dict(row._mapping) for row in conn.execute(select(table).order_by(table.c.id))]


@pytest.fixture
def real_ztf_store(store: Store, shared_data: Path) -> Store:
    """Every real ZTF alert of the shared data replayed into the store, stored only."""
    Worker(ArchiveSource([shared_data / "ztf_alerts"], batch_size=500), store).run()
    return store


def test_the_summary_counts_each_stage_and_shows_the_latest(real_ztf_store, capsys):
    status, out = dead_letters(["--db", real_ztf_store.url], capsys)
    assert status == 0
    assert f"dead letters in {real_ztf_store.url}: {DAMAGED_FILES + UNUSABLE_STAMPS}" in out
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[2:4]}
    assert counts == {"decode": DAMAGED_FILES, "cutout": UNUSABLE_STAMPS}
    assert "corrupt Avro block" in out and "stamp is not valid gzip" in out


def test_list_gives_one_line_each_newest_first_and_chooses_by_stage_and_id(real_ztf_store, capsys):
    _, out = dead_letters(["list", "--stage", "cutout", "--db", real_ztf_store.url], capsys)
    lines = out.splitlines()
    assert len(lines) == UNUSABLE_STAMPS and all(" cutout " in line for line in lines)
    ids = [int(line.split()[0]) for line in lines]
    assert ids == sorted(ids, reverse=True)
    oid = rows(real_ztf_store)[ids[0] - 1]["oid"]
    assert oid.startswith("ZTF") and oid in lines[0]  # which alert it was
    _, out = dead_letters(["list", "--id", str(ids[-1]), "--db", real_ztf_store.url], capsys)
    assert [int(line.split()[0]) for line in out.splitlines()] == [ids[-1]]
    _, out = dead_letters(["list", "--stage", "classify", "--db", real_ztf_store.url], capsys)
    assert out.strip() == f"no dead letters in {real_ztf_store.url} for --stage classify"


def test_export_writes_each_input_byte_for_byte_with_a_manifest(real_ztf_store, tmp_path, capsys):
    out_dir = tmp_path / "exported"
    status, out = dead_letters(["export", "--out", str(out_dir), "--db", real_ztf_store.url], capsys)
    assert status == 0 and f"exported {DAMAGED_FILES + UNUSABLE_STAMPS} dead letters" in out
    manifest = [json.loads(line) for line in (out_dir / "dead_letters.jsonl").read_text().splitlines()]
    stored = {row["id"]: row for row in rows(real_ztf_store)}
    assert {entry["id"] for entry in manifest} == set(stored)
    for entry in manifest:
        data = (out_dir / entry["file"]).read_bytes()
        assert entry["complete"] and entry["file"] == f"{entry['id']}.payload"
        assert hashlib.sha256(data).hexdigest() == entry["payload_sha256"] == stored[entry["id"]]["payload_sha256"]
        assert (entry["stage"], entry["reason"], entry["source"]) == (
            stored[entry["id"]]["stage"], stored[entry["id"]]["reason"], stored[entry["id"]]["source"])
    stamp = next(entry for entry in manifest if entry["stage"] == "cutout")
    [record] = fastavro.reader(io.BytesIO((out_dir / stamp["file"]).read_bytes()))  # an alert again
    assert record["candid"] == stamp["candid"]


def test_inputs_still_broken_fail_again_keep_their_rows_and_change_no_science(real_ztf_store, capsys):
    before, letters_before = table_checksums(real_ztf_store), rows(real_ztf_store)
    status, out = dead_letters(["retry", "--no-classify", "--db", real_ztf_store.url], capsys)
    assert status == 0
    assert (f"retried {DAMAGED_FILES + UNUSABLE_STAMPS} of {DAMAGED_FILES + UNUSABLE_STAMPS} dead letters: "
            f"0 went through (their rows deleted), {DAMAGED_FILES + UNUSABLE_STAMPS} failed again") in out
    assert table_checksums(real_ztf_store) == before  # the alerts with bad stamps stored as they were
    assert [(r["id"], r["reason"]) for r in rows(real_ztf_store)] == [(r["id"], r["reason"]) for r in letters_before]


def test_a_registry_outage_is_mended_by_retrying_its_dead_letters(
        store, wire_messages, registry_server, tmp_path, capsys):
    """Rubin's stream came in while the registry was down: every message went aside whole. Once
    it is back, a retry stores them exactly as if it had never been down, and their rows go."""
    report = Worker(ArchiveSource([]), store, schema_registry=SchemaRegistry(closed_port_url())).process(wire_messages)
    assert report.n_alerts == 0 and len(rows(store)) == len(wire_messages) == 7
    status, out = dead_letters(["retry", "--no-classify", "--schema-registry", registry_server.url,
                                "--db", store.url], capsys)
    assert status == 0 and "7 went through (their rows deleted), 0 failed again" in out
    assert rows(store) == []
    never_down = Store(f"sqlite:///{tmp_path / 'never_down.sqlite3'}")
    never_down.create_all()
    Worker(ArchiveSource([]), never_down, schema_registry=SchemaRegistry(registry_server.url)).process(wire_messages)
    assert table_checksums(store) == table_checksums(never_down)
    never_down.dispose()


def test_an_alert_of_a_message_of_several_is_retried_under_its_own_name(store, rubin, capsys):
    """A message holding a container of three alerts, the third with an impossible position: its
    dead letter is named ``message#2`` and keeps the whole message. Retried, the message runs
    under its own name again, so the same alert fails under the same name: one row, not two."""
    schema, records = rubin
    records = [dict(record) for record in records[:3]]
    records[2] = {**records[2], "diaSource": {**records[2]["diaSource"], "ra": 400.0}}
    container = io.BytesIO()
    fastavro.writer(container, schema, records)
    Worker(ArchiveSource([]), store).process([RawMessage(container.getvalue(), "alerts/0/5")])
    [letter] = rows(store)
    assert (letter["source"], letter["stage"]) == ("alerts/0/5#2", "parse")
    _, out = dead_letters(["retry", "--no-classify", "--db", store.url], capsys)
    assert "0 went through (their rows deleted), 1 failed again" in out
    assert "diaSource ra 400.0 is outside [0.0, 360.0)" in out
    assert [(r["id"], r["source"], r["stage"]) for r in rows(store)] == [(letter["id"], "alerts/0/5#2", "parse")]


def test_an_input_stored_cut_short_is_not_retried_and_says_why(store, capsys):
    big = b"\x00" * (DEAD_LETTER_PAYLOAD_BYTES + 1)
    store.write(BatchWrite(dead_letters=[dead_letter_row(DeadLetter("huge.avro", "decode", "too big", big))]))
    _, out = dead_letters(["retry", "--no-classify", "--db", store.url], capsys)
    assert "not retried decode     huge.avro" in out
    assert (f"huge.avro: only the first {DEAD_LETTER_PAYLOAD_BYTES:,} of its {len(big):,} bytes were stored "
            f"(SHA-256 of the whole: {hashlib.sha256(big).hexdigest()})") in out
    assert "retried 0 of 1 dead letters" in out and len(rows(store)) == 1


def test_a_mistyped_store_is_an_error_and_makes_no_file(tmp_path, capsys):
    missing = tmp_path / "typo" / "alerce.sqlite3"
    for action in ("summary", "retry"):
        assert main(["dead-letters", action, "--db", f"sqlite:///{missing}"]) == 2
        assert f"there is no store at sqlite:///{missing}: no such file" in capsys.readouterr().err
    assert not missing.parent.exists()
    assert main(["dead-letters", "export", "--db", f"sqlite:///{missing}"]) == 2
    assert "export needs --out FOLDER" in capsys.readouterr().err
