"""Kafka in and out: the consumer-group source of raw alerts and the sink of classified ones.

Delivery is at-least-once, and the store makes it exactly-once: offsets are committed
synchronously and only after the worker has stored a batch and every sink has confirmed
delivery (``Worker.run`` calls ``KafkaSource.commit`` after ``KafkaSink.flush``). A worker
killed in between leaves its batch uncommitted; the group gives its partitions to a
survivor, which replays the batch, and the store's idempotent upserts change nothing.

Any librdkafka setting passes through (SASL/SSL for ZTF's and Rubin's brokers included):
from ``--kafka-option key=value`` or from ``ALERCE_KAFKA_<KEY>`` environment variables,
where ``_`` stands for ``.`` and ``__`` for a literal ``_`` (``ALERCE_KAFKA_SASL_MECHANISM``
is ``sasl.mechanism``).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from alerce_contract.classified import encode_classified
from classifier_service.stream.base import ClassifiedAlert, DeadLetter, RawMessage
from classifier_service.stream.classified import classified_record

log = logging.getLogger(__name__)

ENV_PREFIX = "ALERCE_KAFKA_"
ZTF_DAILY_TOPIC = "ztf_{date}_programid1"
ZTF_TOPIC_REGEX = r"^ztf_.*_programid1$"
# Fault injection for the exactly-once test: seconds to hold each commit (after the batch
# is stored and produced), so a test can SIGKILL a worker at exactly that moment.
COMMIT_DELAY_ENV = "ALERCE_TEST_COMMIT_DELAY_S"

# What correctness needs, whatever the user passes: we commit, and only explicitly.
CONSUMER_REQUIRED = {"enable.auto.commit": False, "enable.auto.offset.store": False}
CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest"}
# Idempotence stops broker-side duplicates when the producer retries; acks=all with it.
PRODUCER_DEFAULTS = {"enable.idempotence": True, "linger.ms": 20, "compression.type": "lz4"}
# Commit errors that only mean "you no longer own this partition": the new owner replays.
_REBALANCE_ERRORS = {
    KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.UNKNOWN_MEMBER_ID, KafkaError._NO_OFFSET,
}


class KafkaDeliveryError(RuntimeError):
    """Some produced messages were not acknowledged: the batch must not be committed."""


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """``["key=value", ...]`` (from ``--kafka-option``) to a settings dict; ValueError if malformed."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Kafka option {pair!r} is not key=value")
        settings[key.strip()] = value
    return settings


def env_options(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """librdkafka settings from ``ALERCE_KAFKA_*`` variables (``_`` -> ``.``, ``__`` -> ``_``)."""
    settings = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            key = name[len(ENV_PREFIX):].lower().replace("__", "\0").replace("_", ".")
            settings[key.replace("\0", "_")] = value
    return settings


def client_settings(bootstrap_servers: str, *layers: Mapping[str, Any]) -> dict[str, Any]:
    """librdkafka settings: bootstrap servers, then each layer overriding the ones before."""
    settings: dict[str, Any] = {"bootstrap.servers": bootstrap_servers}
    for layer in layers:
        settings.update(layer)
    return settings


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


def raw_message(message: Any) -> RawMessage:
    """A consumed confluent-kafka message as the worker's RawMessage."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    return RawMessage(
        payload=message.value() or b"", source=f"{topic}/{partition}/{offset}",
        topic=topic, partition=partition, offset=offset,
    )


def commit_offsets(batch: Sequence[RawMessage]) -> list[TopicPartition]:
    """The offsets that mark a batch done: one past the last message of each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        if message.topic is None or message.partition is None or message.offset is None:
            continue
        key = (message.topic, message.partition)
        last[key] = max(last.get(key, -1), message.offset)
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in sorted(last.items())]


class KafkaSource:
    """Batches from a consumer group: up to ``batch_size`` messages or ``batch_timeout_s``.

    ``topics`` are names, or one regex starting with ``^`` (librdkafka's pattern
    subscription, which also picks up nightly topics created while running). ``stop()``
    (a SIGTERM/SIGINT handler calls it) ends ``batches()`` after the batch in hand, so the
    worker still stores, produces and commits it; ``close()`` then leaves the group.
    ``idle_timeout_s`` ends the stream after that long without a message once partitions are
    assigned (replays, bench, tests).
    """

    def __init__(
        self,
        topics: Sequence[str],
        *,
        bootstrap_servers: str,
        group_id: str,
        batch_size: int = 500,
        batch_timeout_s: float = 1.0,
        idle_timeout_s: float | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("KafkaSource needs at least one topic or topic pattern")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.topics = list(topics)
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.idle_timeout_s = idle_timeout_s
        config = client_settings(
            bootstrap_servers, CONSUMER_DEFAULTS, settings or {}, {"group.id": group_id}, CONSUMER_REQUIRED,
        )
        self._consumer = Consumer(config, logger=log)
        self._stopping = threading.Event()
        self._closed = False
        self._last_activity: float | None = None  # set when partitions are first assigned
        self._consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def batches(self) -> Iterator[list[RawMessage]]:
        while not self._stopping.is_set():
            messages = self._consumer.consume(num_messages=self.batch_size, timeout=self.batch_timeout_s)
            batch = [raw_message(m) for m in messages if self._usable(m)]
            if batch:
                self._last_activity = time.monotonic()
                yield batch
            elif self._idle():
                log.info("no message for %.1f s: ending the stream", self.idle_timeout_s)
                return

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """Commit synchronously; a partition lost to a rebalance is left to its new owner."""
        offsets = commit_offsets(batch)
        if not offsets:
            return
        delay = float(os.environ.get(COMMIT_DELAY_ENV) or 0)
        if delay:
            log.warning("holding commit of %d messages for %.1f s (%s)", len(batch), delay, COMMIT_DELAY_ENV)
            time.sleep(delay)
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() not in _REBALANCE_ERRORS:
                raise
            log.warning("commit skipped after a rebalance (%s); the partition's new owner replays it", exc)

    def stop(self) -> None:
        """Finish the batch in hand, then end ``batches()`` (safe from a signal handler)."""
        self._stopping.set()

    def close(self) -> None:
        """Leave the group at once so the others take over the partitions without a timeout."""
        if not self._closed:
            self._closed = True
            self._consumer.close()

    def _idle(self) -> bool:
        """Idle time counts only once the group has assigned partitions (joining takes seconds)."""
        return (self.idle_timeout_s is not None and self._last_activity is not None
                and time.monotonic() - self._last_activity > self.idle_timeout_s)

    def _usable(self, message: Any) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() == KafkaError._PARTITION_EOF:
            return False
        if error.fatal():
            raise KafkaException(error)
        log.warning("consumer error: %s", error)
        return False

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._last_activity = time.monotonic()  # idle time counts from the (re)assignment
        log.info("assigned partitions %s", _partition_names(partitions))

    @staticmethod
    def _on_revoke(consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("revoked partitions %s", _partition_names(partitions))


def _partition_names(partitions: Sequence[TopicPartition]) -> str:
    return "[" + ", ".join(f"{p.topic}/{p.partition}" for p in partitions) + "]"


class KafkaSink:
    """Classified alerts to ``topic`` keyed by oid; dead letters, raw bytes and all, aside.

    Dead letters carry their payload as the value and stage, reason and source (plus oid
    and candid where known) as headers, so they can be inspected and re-fed unchanged.
    ``flush()`` blocks until every message is acknowledged and raises
    :class:`KafkaDeliveryError` if any was not, so the source never commits a lost batch.
    """

    def __init__(
        self,
        topic: str,
        *,
        bootstrap_servers: str,
        dead_letter_topic: str | None = None,
        settings: Mapping[str, Any] | None = None,
        flush_timeout_s: float = 30.0,
    ) -> None:
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.flush_timeout_s = flush_timeout_s
        self._producer = Producer(client_settings(bootstrap_servers, PRODUCER_DEFAULTS, settings or {}), logger=log)
        self._failures: list[str] = []

    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        for alert in alerts:
            value = encode_classified(classified_record(alert, alert.lightcurve))
            self._produce(self.topic, value, key=alert.oid.encode())
        if self.dead_letter_topic:
            for letter in dead_letters:
                self._produce(
                    self.dead_letter_topic, letter.payload or b"",
                    key=(letter.oid or letter.source).encode(), headers=dead_letter_headers(letter),
                )
        self._producer.poll(0)

    def flush(self) -> None:
        remaining = self._producer.flush(self.flush_timeout_s)
        failures, self._failures = self._failures, []
        if remaining:
            failures.append(f"{remaining} messages still undelivered after {self.flush_timeout_s} s")
        if failures:
            raise KafkaDeliveryError(f"{len(failures)} delivery failures, first: {failures[0]}")

    def close(self) -> None:
        self._producer.flush(self.flush_timeout_s)

    def _produce(self, topic: str, value: bytes, *, key: bytes, headers: list | None = None) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key=key, headers=headers, on_delivery=self._delivered)
                return
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.1)

    def _delivered(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error}")


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    headers = [("stage", letter.stage), ("reason", letter.reason), ("source", letter.source)]
    if letter.oid is not None:
        headers.append(("oid", letter.oid))
    if letter.candid is not None:
        headers.append(("candid", str(letter.candid)))
    return [(name, value.encode()) for name, value in headers]

