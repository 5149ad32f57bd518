"""Decoding Avro object-container payloads (one Kafka message, or one archive file).

ZTF sends every alert as a complete container file with its writer schema in the header,
so the same reader serves Kafka messages and archive files of every schema version.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import fastavro

from classifier_service.surveys.base import AlertParseError


def iter_records(payload: bytes | BinaryIO) -> Iterator[dict[str, Any]]:
    """Yield the records of one container; raise AlertParseError where it turns unreadable.

    Records before the damaged block are yielded, so a truncated file loses only its tail.
    """
    stream = io.BytesIO(payload) if isinstance(payload, (bytes, bytearray, memoryview)) else payload
    try:
        reader = fastavro.reader(stream)
    except Exception as exc:  # fastavro raises ValueError, EOFError, IndexError...
        raise AlertParseError(f"not an Avro container: {type(exc).__name__}: {exc}") from exc
    try:
        yield from reader
    except Exception as exc:
        raise AlertParseError(f"corrupt Avro block: {type(exc).__name__}: {exc}") from exc
