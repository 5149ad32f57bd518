"""Archive source and JSON-lines sink."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.store import Store, tables
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import ClassifiedAlert, DeadLetter
from classifier_service.stream.file_sink import JsonLinesSink
from classifier_service.surveys.avro import iter_records
from classifier_service.worker import Worker

NO_CUTOUTS = Path("ztf_alerts") / "ampel-ztf" / "ZTF18acruwxq_nocutouts"  # three single-alert files


def replayed_dead_letters(paths, tmp_path: Path) -> list[tuple[str, str, str]]:
    """(source, stage, reason) of every dead letter a replay of ``paths`` stores."""
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.create_all()
    Worker(ArchiveSource(paths), store).run()
    with store.engine.connect() as conn:
        rows = conn.execute(select(tables.dead_letter.c.source, tables.dead_letter.c.stage,
                                   tables.dead_letter.c.reason)).all()
    store.dispose()
    return sorted(tuple(row) for row in rows)


def test_a_folder_is_read_recursively_one_message_per_alert(shared_data):
    folder = shared_data / "ztf_alerts" / "fink-client"
    messages = list(ArchiveSource([folder]).messages())
    expected = sum(len(list(iter_records(p.read_bytes()))) for p in folder.rglob("*.avro"))
    assert len(messages) == expected > 100
    assert all(len(list(iter_records(m.payload))) == 1 for m in messages)
    assert messages[0].source.endswith("#0")


def test_a_damaged_file_yields_its_readable_alerts_then_the_rest_as_one_message(shared_data):
    path = shared_data / "ztf_alerts/ampel-ztf/ztf_public_20180601_v1.8/516401801315010009.avro"
    messages = list(ArchiveSource([path]).messages())
    assert [m.source.rsplit("#", 1)[1] for m in messages] == ["0", "rest"]
    assert messages[-1].payload == path.read_bytes()


def test_tarballs_are_read_member_by_member(shared_data, tmp_path):
    folder = shared_data / "ztf_alerts" / "ampel-ztf" / "ZTF18acruwxq_nocutouts"
    tarball = tmp_path / "alerts.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in sorted(folder.glob("*.avro")):
            tar.add(path, arcname=f"night/{path.name}")
        tar.addfile(tarfile.TarInfo("README"), io.BytesIO(b""))
    messages = list(ArchiveSource([tarball]).messages())
    assert len(messages) == len(list(folder.glob("*.avro"))) == 3
    assert "!night/" in messages[0].source


def test_a_tarball_broken_part_way_gives_its_alerts_before_the_break_and_a_dead_letter_for_the_rest(
        shared_data, tmp_path):
    whole = tmp_path / "night.tar"
    with tarfile.open(whole, "w") as tar:
        for path in sorted((shared_data / NO_CUTOUTS).glob("*.avro")):
            tar.add(path, arcname=path.name)
    broken = tmp_path / "broken" / "night.tar"
    broken.parent.mkdir()
    with tarfile.open(whole) as tar:
        second = tar.getmembers()[1]
    broken.write_bytes(whole.read_bytes()[:second.offset_data + 100])  # the second member cut short

    messages = list(ArchiveSource([broken]).messages())

    assert len(messages) == 2 and messages[0].unreadable is None
    assert messages[1].source == f"{broken}!rest" and messages[1].payload == b""
    assert messages[1].unreadable.startswith("tarball unreadable after 1 .avro member(s): ")
    letters = replayed_dead_letters([broken], tmp_path)
    assert [(source, stage) for source, stage, _ in letters] == [(f"{broken}!rest", "decode")]


def test_two_files_of_one_name_in_two_folders_are_two_dead_letters(tmp_path, monkeypatch):
    for night in ("night1", "night2"):
        (tmp_path / night).mkdir()
        (tmp_path / night / "alert.avro").write_bytes(f"not avro ({night})".encode())
    monkeypatch.chdir(tmp_path)

    letters = replayed_dead_letters(["night1/alert.avro", "night2/alert.avro"], tmp_path)

    assert [source for source, _, _ in letters] == [str(tmp_path / "night1" / "alert.avro#rest"),
                                                    str(tmp_path / "night2" / "alert.avro#rest")]


def test_a_folder_without_alert_archives_is_an_error_naming_what_it_holds(tmp_path):
    (tmp_path / "notes.txt").write_text("observing log")
    (tmp_path / "alert.json").write_text("{}")

    with pytest.raises(FileNotFoundError, match=r"no alert archives \(\.avro files or tarballs .*\) in "
                                                r".*; 2 other file\(s\), .*alert\.json, notes\.txt"):
        ArchiveSource([tmp_path])


def test_other_files_beside_the_archives_are_named_in_a_warning(shared_data, tmp_path, caplog):
    for path in (shared_data / NO_CUTOUTS).glob("*.avro"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "README.md").write_text("three alerts")

    assert len(ArchiveSource([tmp_path]).files) == 3
    assert any("skipped 1 other file(s)" in r.message and "README.md" in r.message for r in caplog.records)


def test_batches_respect_the_batch_size(shared_data):
    source = ArchiveSource([shared_data / "ztf_alerts" / "fink-client"], batch_size=50)
    sizes = [len(b) for b in source.batches()]
    assert max(sizes) == 50 and sum(sizes) > 100


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such archive"):
        ArchiveSource([tmp_path / "nope"])


def test_the_json_lines_sink_writes_alerts_and_dead_letters(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    sink = JsonLinesSink(path)
    alert = ClassifiedAlert(oid="ZTF1", candid=1, survey="ZTF", ra=1.0, dec=2.0, mjd=3.0, fid=1, magpsf=18.0,
                            sigmapsf=0.1, ndet=1, firstmjd=3.0, lastmjd=3.0,
                            classifications=[ClassifierOutput("c", "1", {"SN": 0.75, "AGN": 0.25})])
    sink.publish([alert], [DeadLetter(source="f#0", stage="decode", reason="bad")])
    sink.close()
    first, second = [json.loads(line) for line in path.read_text().splitlines()]
    assert first["objectId"] == "ZTF1"
    assert first["classifications"] == {"c": {"version": "1", "probabilities": {"SN": 0.75, "AGN": 0.25}}}
    assert second == {"dead_letter": True, "source": "f#0", "stage": "decode", "reason": "bad",
                      "objectId": None, "candid": None}
