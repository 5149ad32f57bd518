"""A Confluent schema registry on loopback, and Rubin's live-stream messages it serves.

Rubin's producer sends each alert as byte 0 = 0, a big-endian schema id, then the Avro record
without its schema; the registry answers ``GET /schemas/ids/{id}`` with the writer schema
(here that of the real Rubin file, lsst.v10_0 as Fink redistributes it) or Confluent's 404.
The fixtures built on these live in tests/service/conftest.py.
"""
from __future__ import annotations

import io
import socket

import fastavro

RUBIN_AVRO = "lsst_alerts/fink-client/part-2-918301.avro"
SCHEMA_ID = 1000
OTHER_SCHEMA_ID = 1001
UNKNOWN_SCHEMA_ID = 424242


def wire_message(schema: dict, schema_id: int, record: dict) -> bytes:
    """What Rubin's producer puts on Kafka: b"\\x00", the schema id, the record without schema."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue()


def closed_port_url() -> str:
    """A loopback URL where nothing listens: a registry that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
