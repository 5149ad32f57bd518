"""Decoding Avro payloads: object containers (ZTF, archive files) and Confluent wire format (Rubin).

ZTF sends every alert as a complete container file with its writer schema in the header,
so the same reader serves Kafka messages and archive files of every schema version.
``fastavro.reader`` re-parses that schema for every container (about 1 ms an alert); here the
container framing is read directly and each writer schema is parsed once, by its text, into
a reader generated for it (:mod:`classifier_service.surveys.avro_reader`, fastavro's records
at half its cost), or fastavro's for a schema the generator leaves to it.

Rubin's live stream sends Confluent's wire format instead: a zero byte, a 4-byte big-endian
schema id and the bare record, whose writer schema comes from a schema registry
(``classifier_service.surveys.registry``).
"""
from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import fastavro

from classifier_service.surveys.avro_reader import Known, Reader, UncheckedText, compile_reader
from classifier_service.surveys.base import AlertParseError
from classifier_service.surveys.history_layout import SKIPPABLE

if TYPE_CHECKING:
    from classifier_service.surveys.registry import SchemaRegistry

MAGIC = b"Obj\x01"
WIRE_MAGIC = b"\x00"
WIRE_HEADER_SIZE = 5  # magic byte + 4-byte schema id
SYNC_SIZE = 16
# Caps that keep a worker's memory bounded whatever arrives, checked BEFORE anything of that
# size is allocated: one container block inflates to at most MAX_BLOCK_BYTES (a deflate or
# snappy bomb stops there), and one record is at most MAX_RECORD_BYTES when encoded (real
# ZTF and Rubin alerts, stamps included, are under 400 kB).
MAX_BLOCK_BYTES = 16 << 20
MAX_RECORD_BYTES = 4 << 20
_SCHEMA_CACHE_SIZE = 64
COMPILE_AFTER = 1  # records a schema reads with fastavro before its reader is generated
_parsed_schemas: dict[bytes, ParsedSchema] = {}


@dataclass(slots=True)
class ParsedSchema:
    """A writer schema parsed once: fastavro's form, and the reader generated for it once it
    has read COMPILE_AFTER records (generating costs about 8 ms, 25 times fastavro's parse:
    a stream is one schema for millions of alerts, a damaged or hostile header one message)."""

    schema: Any
    reads: int = 0
    compiled: Reader | None = None
    generated: bool = False  # tried: ``compiled`` None then means fastavro reads every record

    def read(self, data: bytes, pos: int, known: Known | None = None) -> tuple[Any, int]:
        """The record at ``pos`` and the position after it; history entries ``known`` names are
        left out (by the generated reader, unbuilt; fastavro's records keep them)."""
        if not self.generated:
            self.reads += 1
            if self.reads <= COMPILE_AFTER:
                return self._read_with_fastavro(data, pos)
            self.compiled, self.generated = compile_reader(self.schema, SKIPPABLE), True
        if self.compiled is None:
            return self._read_with_fastavro(data, pos)
        try:
            return self.compiled.read(data, pos, known)
        except UncheckedText:  # rare: fastavro's plain record, whose bad string the parser names
            return self._read_with_fastavro(data, pos)

    def read_prefix(self, data: bytes, pos: int) -> dict[str, Any] | None:
        """Who the record is about (its identity field, read alone: ``Reader.prefix``), or None
        where that cannot be read alone (no generated reader yet or none for this schema, damage:
        the whole read will say what)."""
        if self.compiled is None or self.compiled.prefix is None:
            return None
        try:
            return self.compiled.prefix(data, pos)
        except Exception:  # noqa: BLE001: any damage is the whole read's to report
            return None

    def _read_with_fastavro(self, data: bytes, pos: int) -> tuple[Any, int]:
        stream = io.BytesIO(data)
        stream.seek(pos)
        return fastavro.schemaless_reader(stream, self.schema, None), stream.tell()


@dataclass(slots=True)
class Container:
    """The framing of one container: its schema, codec, sync marker and where blocks start."""

    schema_json: bytes
    codec: str
    sync: bytes
    blocks_start: int


def iter_records(payload: bytes | BinaryIO, registry: SchemaRegistry | None = None,
                 known: Known | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records of one container or wire-format message; AlertParseError where unreadable.

    Records before the damaged block are yielded, so a truncated file loses only its tail.
    A wire-format message needs ``registry`` for its writer schema. ``known``: history entries
    the store holds, left out unbuilt, for a payload of one record (see :func:`single_record_prefix`).
    """
    data = _as_bytes(payload)
    if is_wire_format(data):
        yield read_wire_record(data, registry, known)
        return
    container = read_header(data)
    schema = parsed_schema(container.schema_json)
    for block in _iter_blocks(data, container):
        pos = 0
        for _ in range(block.count):
            record, pos = _read_record(block.data, pos, schema, block.damage, known)
            yield record
        if block.damage:
            raise AlertParseError(block.damage)


def single_record_prefix(payload: bytes, registry: SchemaRegistry | None = None) -> dict[str, Any] | None:
    """Who a payload's one record is about (:meth:`ParsedSchema.read_prefix`), for a Kafka message:
    a container of one uncompressed record, or a wire-format message; None for anything else, or
    where it cannot be read alone."""
    try:
        if is_wire_format(payload):
            if registry is None or len(payload) < WIRE_HEADER_SIZE:
                return None
            schema = registry.schema(int.from_bytes(payload[1:WIRE_HEADER_SIZE], "big"))
            return schema.read_prefix(payload, WIRE_HEADER_SIZE)
        container = read_header(payload)
        if container.codec != "null":
            return None  # inflating twice would cost what skipping saves
        blocks = _iter_blocks(payload, container)
        block = next(blocks, None)
        if block is None or block.count != 1 or block.damage or next(blocks, None) is not None:
            return None
        return parsed_schema(container.schema_json).read_prefix(block.data, 0)
    except (ValueError, IndexError):  # AlertParseError, SchemaRegistryError: the whole read reports it
        return None


def split_records(payload: bytes) -> Iterator[bytes]:
    """Each record of a container as a container of its own (what a Kafka message holds).

    A container that already holds a single record, or a wire-format message, comes back
    unchanged, without decoding.
    """
    if is_wire_format(payload):
        yield payload
        return
    container = read_header(payload)
    blocks = _iter_blocks(payload, container)
    first = next(blocks, None)
    if first is None:
        return
    second = next(blocks, None)
    if second is None and first.count == 1 and not first.damage:
        yield payload
        return
    header = _single_record_header(container)
    schema = parsed_schema(container.schema_json)
    for block in (first, second, *blocks):
        if block is None:
            continue
        pos = 0
        for _ in range(block.count):
            start = pos
            _, pos = _read_record(block.data, pos, schema, block.damage)
            record = block.data[start:pos]
            yield header + _zigzag(1) + _zigzag(len(record)) + record + container.sync
        if block.damage:
            raise AlertParseError(block.damage)


def is_wire_format(data: bytes) -> bool:
    """Confluent's framing starts with a zero byte; a container starts with ``Obj\\x01``."""
    return data[:1] == WIRE_MAGIC


def read_wire_record(data: bytes, registry: SchemaRegistry | None, known: Known | None = None) -> dict[str, Any]:
    """The one record of a Confluent wire-format message, read with the registry's writer schema."""
    if len(data) < WIRE_HEADER_SIZE:
        raise AlertParseError("truncated wire-format message: no schema id")
    if len(data) - WIRE_HEADER_SIZE > MAX_RECORD_BYTES:
        raise AlertParseError(f"wire-format record of {len(data) - WIRE_HEADER_SIZE} bytes is over the "
                              f"{MAX_RECORD_BYTES}-byte cap")
    schema_id = int.from_bytes(data[1:WIRE_HEADER_SIZE], "big")
    if registry is None:
        raise AlertParseError(f"wire-format message with schema id {schema_id}, but no schema registry "
                              "is configured (--schema-registry or ALERCE_SCHEMA_REGISTRY)")
    record, end = _read_record(data, WIRE_HEADER_SIZE, registry.schema(schema_id), known=known)
    left = len(data) - end
    if left:
        raise AlertParseError(f"corrupt wire-format record: {left} bytes left over after a record "
                              f"of schema id {schema_id}")
    return record


# Leading bytes of what is often given in place of an Avro container, and what to tell the user.
_LOOKALIKES = ((b"\x1f\x8b", "gzip-compressed data (gunzip it first)"),
               (b"PAR1", "a Parquet file"), (b"SIMPLE", "a FITS file"), (b"{", "JSON text"))


def _what_it_is(data: bytes) -> str:
    if not data:
        return "empty (0 bytes)"
    named = next((what for magic, what in _LOOKALIKES if data.startswith(magic)), None)
    return named or f"bad magic bytes {data[:4]!r}"


def read_header(data: bytes) -> Container:
    """Parse the container header (magic, metadata map, sync marker)."""
    if not data.startswith(MAGIC):
        raise AlertParseError(f"not an Avro container: {_what_it_is(data)}")
    try:
        pos = len(MAGIC)
        meta: dict[str, bytes] = {}
        while True:
            count, pos = _read_long(data, pos)
            if count == 0:
                break
            if count < 0:
                count = -count
                _, pos = _read_long(data, pos)  # block size in bytes, not needed
            for _ in range(count):
                key, pos = _read_bytes(data, pos)
                value, pos = _read_bytes(data, pos)
                meta[key.decode("utf-8")] = value
        sync = data[pos:pos + SYNC_SIZE]
        if len(sync) != SYNC_SIZE:
            raise AlertParseError("truncated Avro header: no sync marker")
    except (IndexError, UnicodeDecodeError) as exc:
        raise AlertParseError(f"truncated Avro header: {exc}") from exc
    if "avro.schema" not in meta:
        raise AlertParseError("Avro header carries no schema")
    codec = meta.get("avro.codec", b"null").decode("ascii", "replace")
    if codec not in _DECOMPRESSORS:
        raise AlertParseError(f"unsupported Avro codec {codec!r}")
    return Container(meta["avro.schema"], codec, sync, pos + SYNC_SIZE)


def parsed_schema(schema_json: bytes) -> ParsedSchema:
    """A writer schema and its reader, made once per distinct schema text."""
    schema = _parsed_schemas.get(schema_json)
    if schema is None:
        try:
            schema = ParsedSchema(fastavro.parse_schema(json.loads(schema_json)))
        except Exception as exc:  # json or fastavro SchemaParseException
            raise AlertParseError(f"invalid writer schema: {type(exc).__name__}: {exc}") from exc
        if len(_parsed_schemas) >= _SCHEMA_CACHE_SIZE:
            _parsed_schemas.clear()
        _parsed_schemas[schema_json] = schema
    return schema


@dataclass(slots=True)
class _Block:
    count: int
    data: bytes
    damage: str | None = None  # why the file is unreadable after this block's records


def _iter_blocks(data: bytes, container: Container) -> Iterator[_Block]:
    decompress = _DECOMPRESSORS[container.codec]
    pos = container.blocks_start
    while pos < len(data):
        try:
            count, pos = _read_long(data, pos)
            size, pos = _read_long(data, pos)
        except IndexError as exc:
            raise AlertParseError("corrupt Avro block: truncated block header") from exc
        end = pos + size
        if count < 0 or size < 0:
            raise AlertParseError(f"corrupt Avro block: {count} records in {size} bytes")
        if end + SYNC_SIZE > len(data):
            damage = f"corrupt Avro block: {count} records in {size} bytes overrun the file"
        elif data[end:end + SYNC_SIZE] != container.sync:
            damage = "corrupt Avro block: expected sync marker not found"
        else:
            block = _Block(count, decompress(data[pos:end]))
            _check_record_sizes(block)
            yield block
            pos = end + SYNC_SIZE
            continue
        # What precedes the damage may still be whole records: read them, then stop.
        yield _Block(count, data[pos:end] if container.codec == "null" else b"", damage)
        return


def _check_record_sizes(block: _Block) -> None:
    """Refuse, before decoding, a block whose records cannot all be real alerts: more records
    than bytes, or one record over MAX_RECORD_BYTES."""
    if block.count > len(block.data) and not block.damage:
        raise AlertParseError(f"corrupt Avro block: {block.count} records in {len(block.data)} bytes")
    if block.count == 1 and len(block.data) > MAX_RECORD_BYTES:
        raise AlertParseError(f"Avro record of {len(block.data)} bytes is over the {MAX_RECORD_BYTES}-byte cap")


def _read_record(data: bytes, pos: int, schema: ParsedSchema, damage: str | None = None,
                 known: Known | None = None) -> tuple[dict[str, Any], int]:
    """The record at ``pos`` and the position after it."""
    try:
        record, end = schema.read(data, pos, known)
    except Exception as exc:  # IndexError, struct.error, UnicodeDecodeError, CorruptRecord, EOFError...
        raise AlertParseError(damage or f"corrupt Avro record: {type(exc).__name__}: {exc}") from exc
    if end - pos > MAX_RECORD_BYTES:  # one of several in a block: known only once read
        raise AlertParseError(f"Avro record of {end - pos} bytes is over the {MAX_RECORD_BYTES}-byte cap")
    return record, end


def _single_record_header(container: Container) -> bytes:
    """A header for the same schema and sync marker, uncompressed (records are re-framed)."""
    meta = {b"avro.schema": container.schema_json, b"avro.codec": b"null"}
    body = b"".join(_zigzag(len(k)) + k + _zigzag(len(v)) + v for k, v in meta.items())
    return MAGIC + _zigzag(len(meta)) + body + _zigzag(0) + container.sync


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    """Avro's zig-zag varint at ``pos``; IndexError when the bytes run out."""
    result, pos = _read_varint(data, pos)
    return (result >> 1) ^ -(result & 1), pos


def _read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _read_long(data, pos)
    if size < 0 or pos + size > len(data):
        raise IndexError("length runs past the end")
    return data[pos:pos + size], pos + size


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned little-endian base-128 varint (snappy's length prefix); IndexError if cut."""
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _zigzag(value: int) -> bytes:
    encoded = (value << 1) ^ (value >> 63)
    out = bytearray()
    while encoded > 0x7F:
        out.append((encoded & 0x7F) | 0x80)
        encoded >>= 7
    out.append(encoded)
    return bytes(out)


def _inflate(block: bytes) -> bytes:
    """Raw deflate, stopped at MAX_BLOCK_BYTES (+1 to tell a bomb from a block of exactly that)."""
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(block, MAX_BLOCK_BYTES + 1)
    except zlib.error as exc:
        raise AlertParseError(f"corrupt deflate block: {exc}") from exc
    if len(data) > MAX_BLOCK_BYTES:
        del data  # the traceback keeps this frame alive for a while: not with 16 MiB in it
        raise AlertParseError(f"deflate block of {len(block)} bytes inflates beyond the "
                              f"{MAX_BLOCK_BYTES}-byte cap (a decompression bomb?)")
    if not inflater.eof:
        raise AlertParseError(f"corrupt deflate block: the stream ends early ({len(block)} bytes)")
    return data


def _unsnappy(block: bytes) -> bytes:
    import cramjam

    try:  # the uncompressed length leads a raw snappy block: refuse a bomb before allocating
        declared, _ = _read_varint(block, 0)
    except IndexError as exc:
        raise AlertParseError("corrupt snappy block: no length") from exc
    if declared > MAX_BLOCK_BYTES:
        raise AlertParseError(f"snappy block declares {declared} bytes, beyond the {MAX_BLOCK_BYTES}-byte cap")
    try:
        data = bytes(cramjam.snappy.decompress_raw(block[:-4]))
    except Exception as exc:  # cramjam.DecompressionError
        raise AlertParseError(f"corrupt snappy block: {exc}") from exc
    if zlib.crc32(data).to_bytes(4, "big") != block[-4:]:
        raise AlertParseError("corrupt snappy block: CRC mismatch")
    return data


_DECOMPRESSORS = {"null": bytes, "deflate": _inflate, "snappy": _unsnappy}


def _as_bytes(payload: bytes | BinaryIO) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    return payload.read()
