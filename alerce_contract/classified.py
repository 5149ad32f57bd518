"""The classified stream's wire format: one classified alert per Avro container payload.

Each payload carries its writer schema (``schemas/classified_alert.avsc``) in the header, as
ZTF's own alerts do, so any Avro reader decodes it without a schema registry and readers of a
newer schema version resolve older payloads: :func:`decode_classified` resolves each one against
the schema shipped here, so a payload written before a field was added (ssnamenr, ssdistnr)
decodes with that field's default. The broker builds the record
(``classifier_service.stream.classified``); the TOM listener decodes it here, and its
``classifications`` field has the shape of :mod:`alerce_contract.classifications`.
"""
from __future__ import annotations

import io
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import fastavro

SCHEMA_RESOURCE = "schemas/classified_alert.avsc"


class ClassifiedDecodeError(ValueError):
    """A payload that is not one classified-alert record."""


@lru_cache(maxsize=1)
def classified_schema() -> dict[str, Any]:
    """The parsed classified-alert schema (parsed once: parsing costs more than encoding)."""
    text = resources.files("alerce_contract").joinpath(SCHEMA_RESOURCE).read_text()
    return fastavro.parse_schema(json.loads(text))


def encode_classified(record: dict[str, Any]) -> bytes:
    """One Kafka message value: an Avro container holding one classified-alert record."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, classified_schema(), [record])
    return buffer.getvalue()


def decode_classified(payload: bytes) -> dict[str, Any]:
    """The record of one classified-alert payload, with every field of the schema shipped here
    (resolved against the payload's writer schema); ClassifiedDecodeError if it is not one."""
    try:
        records = list(fastavro.reader(io.BytesIO(payload), reader_schema=classified_schema()))
    except Exception as exc:  # fastavro raises ValueError, EOFError, IndexError, ...
        raise ClassifiedDecodeError(f"not an Avro container: {type(exc).__name__}: {exc}") from exc
    if len(records) != 1 or "classifications" not in records[0]:
        raise ClassifiedDecodeError(f"expected one classified-alert record, found {len(records)}")
    return records[0]
