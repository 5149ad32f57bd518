"""Issue 2, acceptance 2: replay the real archive into a store, twice, on SQLite and PostgreSQL.

Every readable alert is stored; the second replay changes no row; the five damaged Ampel
files and every undecodable cutout become dead letters with a reason; the run goes on.
"""
from __future__ import annotations

import argparse
import io

import fastavro
from sqlalchemy import select

from classifier_service.commands import replay
from classifier_service.store import Store, tables
from tests.service.conftest import table_checksums


def readable_alerts(folder) -> list[int]:
    """candids of every alert fastavro can read, damaged files included (their head)."""
    candids = []
    for path in folder.rglob("*.avro"):
        try:
            for record in fastavro.reader(io.BytesIO(path.read_bytes())):
                candids.append(record["candidate"]["candid"])
        except Exception:  # noqa: BLE001: the damaged tail
            pass
    return candids


def run_replay(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        code = replay.run(parser.parse_args(list(argv)))
    return code, out.getvalue()


def test_replaying_the_real_archive_twice_stores_each_alert_once(shared_data, store_url):
    folder = shared_data / "ztf_alerts"
    code, printed = run_replay(str(folder), "--db", store_url, "--batch-size", "100", "--no-classify")
    assert code == 0
    expected = readable_alerts(folder)
    assert f"alerts processed: {len(expected)}" in printed
    assert "dead letters: 8 (cutout: 3, decode: 5)" in printed
    assert "alerts/s" in printed

    store = Store(store_url)
    first = table_checksums(store)
    with store.engine.connect() as conn:
        stamped = set(conn.scalars(select(tables.detection.c.candid).where(tables.detection.c.has_stamp)))
        letters = conn.execute(select(tables.dead_letter.c.stage, tables.dead_letter.c.reason,
                                      tables.dead_letter.c.payload)).all()
    assert set(expected) <= stamped  # a few alerts appear in two files: stored once
    assert all(reason and payload for _, reason, payload in letters)
    assert sorted(stage for stage, _, _ in letters) == ["cutout"] * 3 + ["decode"] * 5
    assert sum("corrupt Avro" in reason for _, reason, _ in letters) == 5
    assert sum("gzip" in reason for _, reason, _ in letters) == 3

    code, printed = run_replay(str(folder), "--db", store_url, "--batch-size", "37", "--no-classify")
    assert code == 0
    assert "rows added: 0\n" in printed
    assert table_checksums(store) == first
    store.dispose()
