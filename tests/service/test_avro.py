"""Avro containers: the cached-schema reader gives what fastavro.reader gives, only faster."""
from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import fastavro
import pytest

from classifier_service.surveys import avro
from classifier_service.surveys.base import AlertParseError


def alert_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "ztf_alerts").rglob("*.avro"))


def reference(payload: bytes) -> tuple[list[str], bool]:
    """fastavro.reader's records (as repr, NaN-safe) and whether it failed part-way."""
    records = []
    try:
        for record in fastavro.reader(io.BytesIO(payload)):
            records.append(repr(record))
    except Exception:  # noqa: BLE001: any fastavro failure
        return records, True
    return records, False


def ours(payload: bytes) -> tuple[list[str], bool]:
    records = []
    try:
        for record in avro.iter_records(payload):
            records.append(repr(record))
    except AlertParseError:
        return records, True
    return records, False


def test_every_real_file_reads_the_same_as_fastavro_reader(shared_data):
    files = alert_files(shared_data)
    assert len(files) > 150
    failures = 0
    for path in files:
        payload = path.read_bytes()
        assert ours(payload) == reference(payload), path
        failures += reference(payload)[1]
    assert failures == 5  # the five damaged Ampel files


def test_split_records_gives_one_container_per_alert(shared_data):
    multi = shared_data / "ztf_alerts" / "fink-client" / "multi"
    for path in sorted(multi.glob("*.avro")):
        payload = path.read_bytes()
        singles = list(avro.split_records(payload))
        assert len(singles) > 1
        assert [repr(r) for s in singles for r in fastavro.reader(io.BytesIO(s))] == reference(payload)[0]


def test_a_single_alert_container_is_passed_through_untouched(shared_data):
    path = alert_files(shared_data)[0]
    payload = path.read_bytes()
    assert list(avro.split_records(payload)) == [payload]


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_compressed_containers_are_read(codec):
    schema = {"type": "record", "name": "r", "fields": [{"name": "x", "type": "long"}]}
    out = io.BytesIO()
    fastavro.writer(out, schema, [{"x": i} for i in range(1000)], codec=codec, sync_interval=2000)
    payload = out.getvalue()
    assert [r["x"] for r in avro.iter_records(payload)] == list(range(1000))
    assert [r["x"] for s in avro.split_records(payload) for r in avro.iter_records(s)] == list(range(1000))


def test_a_truncated_file_yields_its_head_then_a_clear_error():
    schema = {"type": "record", "name": "r", "fields": [{"name": "x", "type": "string"}]}
    out = io.BytesIO()
    fastavro.writer(out, schema, [{"x": "a" * 100} for _ in range(50)], sync_interval=500)
    payload = out.getvalue()
    seen = []
    with pytest.raises(AlertParseError, match="corrupt Avro"):
        for record in avro.iter_records(payload[:-300]):
            seen.append(record)
    assert 0 < len(seen) < 50


@pytest.mark.parametrize("payload", [b"", b"Obj", b"not avro at all", b"Obj\x01\x02"])
def test_garbage_is_an_alert_parse_error(payload):
    with pytest.raises(AlertParseError):
        list(avro.iter_records(payload))


@pytest.mark.parametrize("payload, said", [
    (b"", "empty (0 bytes)"),
    (gzip.compress(b"Obj\x01", mtime=0), "gzip-compressed data (gunzip it first)"),
    (b"PAR1\x15\x04", "a Parquet file"),
    (b'{"objectId": "ZTF18aaaaaaa"}', "JSON text"),
    (b"not avro at all", "bad magic bytes b'not '"),
], ids=["empty", "gzip", "parquet", "json", "other"])
def test_what_is_not_an_avro_container_is_named_in_the_dead_letters_reason(payload, said):
    with pytest.raises(AlertParseError, match=re.escape(f"not an Avro container: {said}")):
        list(avro.iter_records(payload))


def test_writer_schemas_are_parsed_once(shared_data):
    payload = alert_files(shared_data)[0].read_bytes()
    header = avro.read_header(payload)
    assert avro.parsed_schema(header.schema_json) is avro.parsed_schema(header.schema_json)
