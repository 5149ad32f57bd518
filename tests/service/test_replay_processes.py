"""``replay --processes 2``: objects shared between two workers by oid hash, each object's
alerts in order in one of them; the store ends up exactly as after a one-process replay."""
from __future__ import annotations

from classifier_service.cli import main
from classifier_service.simulate import simulate_alert_packets
from classifier_service.store import Store
from tests.service.conftest import table_checksums


def test_two_processes_store_what_one_process_stores(tmp_path, capsys):
    archive = tmp_path / "archive"
    archive.mkdir()
    for i, payload in enumerate(simulate_alert_packets(60, seed=7)):
        (archive / f"{i:03d}.avro").write_bytes(payload)
    (archive / "999.avro").write_bytes(b"Obj\x01not an alert")
    checksums = {}
    for processes in ("1", "2"):
        db = f"sqlite:///{tmp_path / processes}.sqlite3"
        assert main(["--log-level", "WARNING", "replay", str(archive), "--db", db, "--no-classify",
                     "--batch-size", "10", "--processes", processes]) == 0
        assert "alerts processed: 60" in capsys.readouterr().out
        store = Store(db)
        checksums[processes] = table_checksums(store)
        store.dispose()

    assert checksums["2"] == checksums["1"]
    assert checksums["2"]["dead_letter"][0] == 1
