"""Archive source and JSON-lines sink."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import ClassifiedAlert, DeadLetter
from classifier_service.stream.file_sink import JsonLinesSink
from classifier_service.surveys.avro import iter_records


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
