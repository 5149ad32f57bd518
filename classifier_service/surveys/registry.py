"""A Confluent-compatible schema-registry client: the writer schema of a wire-format message.

Rubin's live stream sends each alert as byte 0 = 0, a big-endian schema id, then the Avro
record without its schema; the schema comes from ``GET {url}/schemas/ids/{id}``. A schema id
never changes meaning, so each one is fetched once and kept for the life of the process. A
failed fetch (registry down, unknown id) raises AlertParseError, so the message becomes a
dead letter with its raw bytes; it is remembered for ``retry_after_s`` so that a batch of
hundreds of messages costs one request to a broken registry, not hundreds.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import requests

from classifier_service.surveys.avro import parsed_schema
from classifier_service.surveys.base import AlertParseError

log = logging.getLogger(__name__)


class SchemaRegistryError(AlertParseError):
    """The writer schema of a message could not be had from the registry."""


class SchemaRegistry:
    """Parsed writer schemas by id, fetched over HTTP once per id and cached forever."""

    def __init__(self, url: str, timeout_s: float = 10.0, retry_after_s: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.session = session or requests.Session()
        self._schemas: dict[int, Any] = {}
        self._failures: dict[int, tuple[float, str]] = {}  # id -> (monotonic time, reason)

    def schema(self, schema_id: int) -> Any:
        """fastavro's parsed writer schema for ``schema_id``; SchemaRegistryError if unavailable."""
        schema = self._schemas.get(schema_id)
        if schema is not None:
            return schema
        failed = self._failures.get(schema_id)
        if failed is not None and time.monotonic() - failed[0] < self.retry_after_s:
            raise SchemaRegistryError(failed[1])
        try:
            schema = parsed_schema(self._fetch(schema_id))
        except AlertParseError as exc:
            self._failures[schema_id] = (time.monotonic(), str(exc))
            log.warning("%s", exc)
            raise SchemaRegistryError(str(exc)) from exc
        self._failures.pop(schema_id, None)
        self._schemas[schema_id] = schema
        return schema

    def _fetch(self, schema_id: int) -> bytes:
        """The schema's JSON text, as the registry serves it."""
        where = f"{self.url}/schemas/ids/{schema_id}"
        try:
            response = self.session.get(where, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise AlertParseError(
                f"schema registry unreachable at {where}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            raise AlertParseError(f"schema id {schema_id} is unknown to the registry at {self.url}")
        if response.status_code != 200:
            raise AlertParseError(f"schema registry answered HTTP {response.status_code} for {where}")
        try:
            return response.json()["schema"].encode("utf-8")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AlertParseError(f"schema registry gave no schema for id {schema_id} at {where}") from exc
