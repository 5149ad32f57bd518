"""Kafka out, and the broker-side helpers: the sink of classified alerts and dead letters,
ZTF's nightly topic names, and topic creation (the one place topics are created).

Delivery is at-least-once, and the store makes it exactly-once: offsets are committed
synchronously and only after the worker has stored a batch and every sink has confirmed
delivery (``Worker.run`` calls ``KafkaSource.commit`` after ``KafkaSink.flush``). A worker
killed in between leaves its batch uncommitted; the group gives its partitions to a
survivor, which replays the batch, and the store's idempotent upserts change nothing.
The consumer side is :mod:`classifier_service.stream.consumer`, shared with the TOM listener.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from alerce_contract.classified import encode_classified
from classifier_service.stream.base import ClassifiedAlert, DeadLetter, Unavailable
from classifier_service.stream.classified import classified_record
from classifier_service.stream.consumer import MutedRepeats, client_settings

log = logging.getLogger(__name__)

ZTF_DAILY_TOPIC = "ztf_{date}_programid1"
ZTF_TOPIC_REGEX = r"^ztf_.*_programid1$"
# Idempotence stops broker-side duplicates when the producer retries; acks=all with it.
PRODUCER_DEFAULTS = {"enable.idempotence": True, "linger.ms": 20, "compression.type": "lz4"}
# librdkafka's default largest message; a dead letter larger than this (headers included)
# goes to the topic as a reference to its row in the store.
DEFAULT_MESSAGE_MAX_BYTES = 1_000_000
HEADER_ALLOWANCE = 8_000
DEFAULT_SPILL_PATH = Path("var/dead_letter_spill.jsonl")
SPILL_PAYLOAD_BYTES = 1 << 20


class KafkaDeliveryError(Unavailable):
    """Some produced messages were not acknowledged: the batch must not be committed."""


def create_topics(bootstrap_servers: str, partitions: Mapping[str, int],
                  settings: Mapping[str, Any] | None = None, timeout_s: float = 30.0) -> None:
    """Create each topic with its number of partitions; one that exists already is left as it is."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(client_settings(bootstrap_servers, settings or {}))
    existing = admin.list_topics(timeout=timeout_s).topics
    new = [NewTopic(name, num_partitions=n, replication_factor=1)
           for name, n in partitions.items() if name not in existing]
    for name, future in (admin.create_topics(new).items() if new else ()):
        try:
            future.result(timeout=timeout_s)
            log.info("created topic %s", name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def date_range(spec: str, today: date | None = None) -> list[date]:
    """Dates of ``today``, ``YYYYMMDD`` or ``YYYYMMDD:YYYYMMDD`` (inclusive), in UTC.

    ZTF names its nightly topics after the UTC date the night starts on.
    """
    today = today or datetime.now(timezone.utc).date()
    first, _, last = spec.partition(":")
    start = today if first == "today" else _parse_date(first)
    end = start if not last else (today if last == "today" else _parse_date(last))
    if end < start:
        raise ValueError(f"date range {spec!r} ends before it starts")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def expand_topics(topics: Sequence[str], dates: Sequence[date]) -> list[str]:
    """Topic names with ``{date}`` replaced by each date as ``YYYYMMDD``; others as given."""
    names: list[str] = []
    for topic in topics:
        if "{date}" in topic:
            names.extend(topic.format(date=f"{day:%Y%m%d}") for day in dates)
        else:
            names.append(topic)
    return list(dict.fromkeys(names))


def _parse_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date YYYYMMDD or 'today'") from exc


class KafkaSink:
    """Classified alerts to ``topic`` keyed by oid; dead letters, raw bytes and all, aside.

    Dead letters carry their payload as the value and stage, reason, source, the payload's
    size and SHA-256 (plus oid and candid where known) as headers, so they can be inspected
    and re-fed unchanged. A payload too large for a Kafka message goes as a reference (empty
    value, the headers, ``payload: omitted``) to the store's dead_letter row; a dead letter
    the broker refuses even so is written to ``spill_path`` (JSON lines) and the batch goes on.

    ``flush()`` waits while the brokers are unreachable (one log line per ``flush_timeout_s``),
    up to ``unreachable_limit_s`` when set, and raises :class:`KafkaDeliveryError` if anything
    was not delivered, so the source never commits a lost batch.
    """

    def __init__(
        self,
        topic: str,
        *,
        bootstrap_servers: str,
        dead_letter_topic: str | None = None,
        settings: Mapping[str, Any] | None = None,
        flush_timeout_s: float = 30.0,
        unreachable_limit_s: float | None = None,
        spill_path: Path = DEFAULT_SPILL_PATH,
    ) -> None:
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.flush_timeout_s = flush_timeout_s
        self.unreachable_limit_s = unreachable_limit_s
        self.spill_path = Path(spill_path)
        config = client_settings(bootstrap_servers, PRODUCER_DEFAULTS, settings or {})
        self.message_max_bytes = int(config.get("message.max.bytes", DEFAULT_MESSAGE_MAX_BYTES))
        self._producer = Producer(config, logger=MutedRepeats(log))
        self._failures: list[str] = []

    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        for alert in alerts:
            value = encode_classified(classified_record(alert, alert.lightcurve))
            self._produce(self.topic, value, key=alert.oid.encode(), on_delivery=self._delivered)
        if self.dead_letter_topic:
            for letter in dead_letters:
                self._publish_dead_letter(letter)
        self._producer.poll(0)

    def flush(self) -> None:
        waited = 0.0
        while remaining := self._producer.flush(self.flush_timeout_s):
            waited += self.flush_timeout_s
            log.warning("Kafka has not acknowledged %d messages after %.0f s; waiting", remaining, waited)
            if self.unreachable_limit_s is not None and waited >= self.unreachable_limit_s:
                self._failures.append(f"{remaining} messages still undelivered after {waited:.0f} s")
                break
        failures, self._failures = self._failures, []
        if failures:
            raise KafkaDeliveryError(f"{len(failures)} delivery failures, first: {failures[0]}")

    def close(self) -> None:
        self._producer.flush(self.flush_timeout_s)

    def _publish_dead_letter(self, letter: DeadLetter) -> None:
        payload = letter.payload or b""
        headers = dead_letter_headers(letter)
        value = payload
        if len(payload) + HEADER_ALLOWANCE > self.message_max_bytes:
            value = b""
            headers.append(("payload", b"omitted: over the Kafka message limit; see the store's dead_letter row"))
        try:
            self._produce(self.dead_letter_topic, value, key=(letter.oid or letter.source).encode(),
                          headers=headers, on_delivery=lambda error, _message: self._dead_letter_delivered(error, letter))
        except KafkaException as exc:  # refused before sending (size, configuration)
            self._spill(letter, exc.args[0].str())

    def _produce(self, topic: str, value: bytes, *, key: bytes, on_delivery, headers: list | None = None) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key=key, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.1)

    def _delivered(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error.str()}")

    def _dead_letter_delivered(self, error: KafkaError | None, letter: DeadLetter) -> None:
        """A dead letter the broker refuses for what it is goes to the spill file; one lost to
        an outage fails the batch like any message (it is published again)."""
        if error is None:
            return
        if error.code() in _REFUSALS:
            self._spill(letter, error.str())
        else:
            self._failures.append(f"{self.dead_letter_topic}: {error.str()}")

    def _spill(self, letter: DeadLetter, why: str) -> None:
        payload = letter.payload or b""
        line = {"source": letter.source, "stage": letter.stage, "reason": letter.reason, "oid": letter.oid,
                "candid": letter.candid, "payload_size": len(payload),
                "payload_sha256": hashlib.sha256(payload).hexdigest(),
                "payload_base64": base64.b64encode(payload[:SPILL_PAYLOAD_BYTES]).decode("ascii"),
                "refused": why}
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spill_path.open("a", encoding="utf-8") as spill:
            spill.write(json.dumps(line) + "\n")
        log.error("dead letter %s refused by Kafka (%s): written to %s", letter.source, why, self.spill_path)


# Delivery errors that are about the message itself, not the brokers' availability.
_REFUSALS = {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD,
             KafkaError.INVALID_MSG_SIZE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_MSG,
             KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.UNKNOWN_TOPIC_OR_PART}


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    payload = letter.payload or b""
    headers = [("stage", letter.stage), ("reason", letter.reason), ("source", letter.source),
               ("payload_size", str(len(payload))), ("payload_sha256", hashlib.sha256(payload).hexdigest())]
    if letter.oid is not None:
        headers.append(("oid", letter.oid))
    if letter.candid is not None:
        headers.append(("candid", str(letter.candid)))
    return [(name, value.encode()) for name, value in headers]
