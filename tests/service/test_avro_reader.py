"""The generated Avro reader gives fastavro's records, less the history entries the store holds,
and refuses what is not a record."""
from __future__ import annotations

import copy
import io
import json
import math
import random
from pathlib import Path

import fastavro
import pytest

from classifier_service.surveys import avro
from classifier_service.surveys.avro_reader import compile_reader
from classifier_service.surveys.base import MAX_TEXT_CHARS, AlertParseError, TextChecked, check_text
from classifier_service.surveys.history_layout import SKIPPABLE, history_identity

EVERY_TYPE = {
    "type": "record", "name": "every", "namespace": "test", "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "single", "type": "float"},
        {"name": "double", "type": "double"},
        {"name": "text", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "nothing", "type": "null"},
        {"name": "colour", "type": {"type": "enum", "name": "colour", "symbols": ["red", "green", "blue"]}},
        {"name": "md5", "type": {"type": "fixed", "name": "md5", "size": 16}},
        {"name": "maybe", "type": ["null", "float", "string", "colour"]},
        {"name": "tags", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "points", "type": {"type": "array", "items": {
            "type": "record", "name": "point", "fields": [
                {"name": "x", "type": "double"}, {"name": "label", "type": ["null", "string"]}]}}},
        {"name": "last", "type": ["null", "point"]},
        {"name": "when", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "child", "type": ["null", "every"]},
    ]}


def random_every(rng: random.Random, depth: int = 0) -> dict:
    text = "".join(rng.choice("aé☃\U0001f600z ") for _ in range(rng.randrange(12)))
    return {
        "flag": rng.random() < 0.5, "small": rng.randint(-2**31, 2**31 - 1),
        "big": rng.choice([0, -1, 63, -64, 64, 2**63 - 1, -2**63, rng.randint(-2**63, 2**63 - 1)]),
        "single": rng.choice([0.0, -1.5, 1e30, math.inf, rng.uniform(-1e6, 1e6)]),
        "double": rng.choice([-0.0, 1e-300, math.inf, rng.uniform(-1e9, 1e9)]),
        "text": text, "raw": rng.randbytes(rng.randrange(40)), "nothing": None,
        "colour": rng.choice(["red", "green", "blue"]), "md5": rng.randbytes(16),
        "maybe": rng.choice([None, 2.5, text, "blue"]),
        "tags": {f"k{i}": rng.choice([None, rng.randint(-9, 2**40)]) for i in range(rng.randrange(4))},
        "points": [{"x": rng.random(), "label": rng.choice([None, text])} for _ in range(rng.randrange(300))],
        "last": rng.choice([None, {"x": 1.0, "label": None}]),
        "when": rng.randint(0, 2**52),
        "child": random_every(rng, depth + 1) if depth < 2 and rng.random() < 0.5 else None,
    }


def encoded(schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def fastavro_record(schema: dict, data: bytes) -> dict:
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(schema), None)


def generated_record(schema: dict, data: bytes) -> dict:
    reader = compile_reader(fastavro.parse_schema(schema))
    assert reader is not None
    record, end = reader.read(data, 0)
    assert end == len(data)
    return record


def test_every_avro_type_reads_as_fastavro_reads_it():
    rng = random.Random(12)
    for _ in range(200):
        data = encoded(EVERY_TYPE, random_every(rng))
        assert repr(generated_record(EVERY_TYPE, data)) == repr(fastavro_record(EVERY_TYPE, data))


def test_arrays_written_in_sized_blocks_read_the_same():
    """A negative block count is followed by the block's size in bytes (Java's writers may use it)."""
    schema = {"type": "record", "name": "r", "fields": [{"name": "xs", "type": {"type": "array", "items": "long"}}]}
    # two blocks, the first of 2 items sized (count -2, 2 bytes), the second of 1, then the end
    data = bytes([3, 4, 2, 4, 2, 6, 0])
    assert generated_record(schema, data) == fastavro_record(schema, data) == {"xs": [1, 2, 3]}


def test_longs_wrap_to_64_bits_as_fastavro_wraps_them():
    schema = {"type": "record", "name": "r", "fields": [{"name": "x", "type": "long"}]}
    for data in (b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\xff" * 9 + b"\x01", b"\xff" * 9 + b"\x7f", b"\x80\x00"):
        assert generated_record(schema, data) == fastavro_record(schema, data)


def every_real_alert_file(shared_data: Path) -> list[Path]:
    return sorted([*(shared_data / "ztf_alerts").rglob("*.avro"), *(shared_data / "schemas").rglob("*.avro")])


def test_every_real_alert_schema_gets_a_generated_reader_with_fastavros_records(shared_data):
    files = every_real_alert_file(shared_data)
    assert len(files) > 150
    for path in files:
        payload = path.read_bytes()
        header = avro.read_header(payload)
        schema = fastavro.parse_schema(json.loads(header.schema_json))
        reader = compile_reader(schema)
        assert reader is not None, path
        try:
            reference = list(fastavro.reader(io.BytesIO(payload)))
        except Exception:  # noqa: BLE001: the damaged Ampel files, compared in test_avro
            continue
        records = []
        for block in avro._iter_blocks(payload, header):
            pos = 0
            for _ in range(block.count):
                record, pos = reader.read(block.data, pos)
                records.append(record)
            assert pos == len(block.data), path
        assert repr(records) == repr(reference), path


def test_a_schema_is_generated_for_only_once_it_has_read_more_than_one_record(shared_data):
    """A damaged or hostile header is one message: fastavro's parse costs a 25th of generating."""
    path = shared_data / "ztf_alerts" / "ztf-avro-alert" / "472263571115115000.avro"
    payload = path.read_bytes()
    header = avro.read_header(payload)
    schema = avro.ParsedSchema(fastavro.parse_schema(json.loads(header.schema_json)))
    (block,) = [b.data for b in avro._iter_blocks(payload, header)]
    first = schema.read(block, 0)
    assert schema.compiled is None
    assert repr(schema.read(block, 0)) == repr(first)
    assert schema.compiled is not None


def test_bit_flips_are_refused_wherever_fastavro_refuses_them_and_read_alike_elsewhere(shared_data):
    """Damage inside a record: where fastavro fails, so does the generated reader; where both
    read it, they read the same. (Where fastavro reads what no writer makes, such as a negative
    union index, the generated reader may refuse: the alert is then a dead letter.)"""
    path = shared_data / "ztf_alerts" / "ztf-avro-alert" / "472263571115115000.avro"
    payload = path.read_bytes()
    header = avro.read_header(payload)
    schema = fastavro.parse_schema(json.loads(header.schema_json))
    reader = compile_reader(schema)
    (block,) = [b.data for b in avro._iter_blocks(payload, header)]
    rng = random.Random(7)
    outcomes = {"both": 0, "refused": 0}
    for _ in range(400):
        data = bytearray(block)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        data = bytes(data)
        try:
            expected = repr(fastavro.schemaless_reader(io.BytesIO(data), schema, None))
        except Exception:  # noqa: BLE001: fastavro refuses it
            expected = None
        try:
            got = repr(reader.read(data, 0)[0])
        except Exception:  # noqa: BLE001: refused
            got = None
        assert got in (expected, None), data
        outcomes["both" if got is not None else "refused"] += 1
    assert outcomes["both"] > 100 and outcomes["refused"] > 10


def test_every_truncation_of_a_real_alert_is_a_parse_error(shared_data):
    path = shared_data / "ztf_alerts" / "ztf-avro-alert" / "472263571115115000.avro"
    payload = path.read_bytes()
    header = avro.read_header(payload)
    schema = avro.ParsedSchema(fastavro.parse_schema(json.loads(header.schema_json)))
    schema.compiled, schema.generated = compile_reader(schema.schema), True
    (block,) = [b.data for b in avro._iter_blocks(payload, header)]
    for end in range(0, len(block), 97):
        with pytest.raises(AlertParseError, match="corrupt Avro record"):
            avro._read_record(block[:end], 0, schema)


def test_a_schema_nested_past_pythons_limits_is_read_by_fastavro():
    schema: dict = {"type": "long"}
    for _ in range(30):
        schema = {"type": "array", "items": schema}
    schema = {"type": "record", "name": "deep", "fields": [{"name": "x", "type": schema}]}
    assert compile_reader(fastavro.parse_schema(schema)) is None
    value: list = [7]
    for _ in range(29):
        value = [value]
    out = io.BytesIO()
    fastavro.writer(out, schema, [{"x": value}])
    assert list(avro.iter_records(out.getvalue())) == [{"x": value}]


def test_schema_text_cannot_inject_code():
    """Names and symbols from a packet's schema reach the generated source only as literals."""
    evil = "x'); import os; os._exit(3) #"
    schema = {"type": "record", "name": "r", "fields": [
        {"name": evil, "type": {"type": "enum", "name": "e", "symbols": ["a", "b"]}}]}
    assert generated_record(schema, b"\x02") == {evil: "b"}


def read_twice(schema: dict, data: bytes) -> dict:
    """The record as the decoder reads it once its reader is generated (the second read)."""
    parsed = avro.ParsedSchema(fastavro.parse_schema(schema))
    parsed.read(data, 0)
    record, end = parsed.read(data, 0)
    assert parsed.compiled is not None and end == len(data)
    return record


BAD_TEXT = ["a\x00b", "line\nbreak", "\u202eevil", "x" * (MAX_TEXT_CHARS + 1)]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["NUL", "LF", "U+202E", "too long"])
def test_a_string_check_text_refuses_anywhere_leaves_the_record_for_the_parser_to_name(bad):
    """The generated reader checks every string as it reads it; one that fails sends the record
    back to fastavro, so the parser's walk refuses it with the string's path and reason."""
    record = random_every(random.Random(3))
    record["points"] = [{"x": 1.0, "label": "fine"}, {"x": 2.0, "label": bad}]
    got = read_twice(EVERY_TYPE, encoded(EVERY_TYPE, record))
    assert type(got) is dict and repr(got) == repr(fastavro_record(EVERY_TYPE, encoded(EVERY_TYPE, record)))
    with pytest.raises(AlertParseError, match=r"^points\[1\]\.label (holds the non-printable|is \d+ characters)"):
        check_text(got)


def test_a_record_whose_strings_all_pass_is_marked_checked_and_not_walked_again():
    record = random_every(random.Random(4))
    got = read_twice(EVERY_TYPE, encoded(EVERY_TYPE, record))
    assert type(got) is TextChecked and got == fastavro_record(EVERY_TYPE, encoded(EVERY_TYPE, record))
    check_text(got)


def test_a_copy_of_a_checked_record_which_its_maker_may_change_is_checked_again():
    record = read_twice(EVERY_TYPE, encoded(EVERY_TYPE, random_every(random.Random(4))))
    for copied in (copy.copy(record), copy.deepcopy(record), record.copy(), dict(record)):
        copied["text"] = "a\x00b"
        with pytest.raises(AlertParseError, match="^text holds the non-printable character U[+]0000"):
            check_text(copied)


def test_the_reader_refuses_exactly_the_strings_check_text_refuses():
    """Random text in every string field, printable or not: the generated reader passes a record
    exactly when check_text passes fastavro's reading of it (map keys, like check_text, unread)."""
    rng = random.Random(5)
    alphabet = "az é\t\n\x00\x7f\u200b\u202e\U0001f600\ud7ff"
    refused = 0
    for _ in range(300):
        record = random_every(rng)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(4)))
        record[rng.choice(["text", "maybe"])] = text
        record["tags"] = {text: 1}
        data = encoded(EVERY_TYPE, record)
        try:
            check_text(fastavro_record(EVERY_TYPE, data))
            expected = TextChecked
        except AlertParseError:
            expected, refused = dict, refused + 1
        assert type(read_twice(EVERY_TYPE, data)) is expected, repr(text)
    assert 50 < refused < 250



def every_real_record(shared_data: Path) -> list[tuple[Path, dict, bytes, dict]]:
    """(file, fastavro's parsed writer schema, the record's bytes, fastavro's record) of every
    readable real ZTF and Rubin alert."""
    out = []
    for path in [*every_real_alert_file(shared_data), *sorted((shared_data / "lsst_alerts").rglob("*.avro"))]:
        payload = path.read_bytes()
        header = avro.read_header(payload)
        schema = fastavro.parse_schema(json.loads(header.schema_json))
        try:
            blocks = list(avro._iter_blocks(payload, header))
        except AlertParseError:
            continue
        for block in blocks:
            pos, stream = 0, io.BytesIO(block.data)
            for _ in range(block.count):
                try:
                    record = fastavro.schemaless_reader(stream, schema, None)
                except Exception:  # noqa: BLE001: the damaged Ampel files
                    break
                out.append((path, schema, block.data[pos:stream.tell()], record))
                pos = stream.tell()
    return out


def stored_keys(record: dict, rng: random.Random) -> dict[str, set[int]]:
    """A random half of each history array's keys, as if the store held those entries."""
    known = {}
    for array, entry in SKIPPABLE.items():
        keys = [e[entry.key] for e in record.get(array) or () if e.get(entry.key) is not None]
        known[array] = set(rng.sample(keys, len(keys) // 2)) | {-1}
    return known


def without_stored(record: dict, known: dict[str, set[int]]) -> dict:
    """fastavro's record less the entries ``known`` names, by the test known_history drops them by."""
    out = dict(record)
    for array, entry in SKIPPABLE.items():
        if record.get(array) is not None:
            out[array] = [e for e in record[array] if not (e.get(entry.key) in known[array]
                                                           and (entry.present is None or e.get(entry.present) is not None))]
    return out


def test_history_entries_the_store_holds_are_skipped_unbuilt_and_the_rest_read_as_fastavro_reads_them(shared_data):
    rng = random.Random(9)
    records = every_real_record(shared_data)
    skipped, readers = 0, {}
    for path, schema, data, record in records:
        reader = readers.get(path) or readers.setdefault(path, compile_reader(schema, SKIPPABLE))
        known = stored_keys(record, rng)
        got, end = reader.read(data, 0, known)
        assert end == len(data) and repr(got) == repr(without_stored(record, known)), path
        skipped += sum(len(record.get(a) or ()) - len(got.get(a) or ()) for a in SKIPPABLE)
    assert {p.parts[-3] for p, *_ in records} >= {"fink-client"} and skipped > 500


def test_the_prefix_tells_who_the_alert_is_about_as_the_whole_record_does(shared_data):
    told, readers = 0, {}
    for path, schema, data, record in every_real_record(shared_data):
        reader = readers.get(path) or readers.setdefault(path, compile_reader(schema, SKIPPABLE))
        assert reader.prefix is not None, path
        identity = history_identity(reader.prefix(data, 0))
        assert identity == history_identity(record), path
        told += identity is not None
    assert told > 300


def test_every_truncation_of_a_real_alert_read_with_its_history_known_is_a_parse_error(shared_data):
    """Skipping moves past bytes without reading them: a record cut short is still refused."""
    path = shared_data / "ztf_alerts" / "ampel-ztf" / "single" / "ZTF20abyfpze.avro"
    payload = path.read_bytes()
    header = avro.read_header(payload)
    schema = avro.ParsedSchema(fastavro.parse_schema(json.loads(header.schema_json)))
    schema.compiled, schema.generated = compile_reader(schema.schema, SKIPPABLE), True
    (block,) = [b.data for b in avro._iter_blocks(payload, header)]
    record = fastavro.schemaless_reader(io.BytesIO(block), schema.schema, None)
    known = {array: {e[entry.key] for e in record.get(array) or () if e.get(entry.key) is not None}
             for array, entry in SKIPPABLE.items()}
    assert len(avro._read_record(block, 0, schema, known=known)[0]["prv_candidates"]) < len(record["prv_candidates"])
    for end in range(0, len(block), 89):
        with pytest.raises(AlertParseError, match="corrupt Avro record"):
            avro._read_record(block[:end], 0, schema, known=known)
