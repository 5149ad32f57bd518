"""The one Kafka consumer loop: the worker's source of raw alerts and the TOM listener's of
classified ones, so that both follow the same policies.

* Batches of up to ``batch_size`` messages: the first waited for up to ``batch_timeout_s``,
  then whatever else arrives within ``linger_s`` (or is already fetched) joins it. A slow
  stream is not held back to fill a batch; a backlog still goes in full batches. Partition
  EOFs are skipped.
* Offsets are committed only explicitly, synchronously, by the caller once it has stored (and
  published) a batch: a crash replays, never loses. A commit refused because the partition
  moved to another member is left to the new owner (which replays it).
* A broker that cannot be reached is waited for (librdkafka reconnects; errors are logged
  as one line each, repeats muted for ``LOG_REPEAT_S``, librdkafka's own log lines too: a
  broker that is down is retried several times a second, each try a line); with
  ``unreachable_limit_s`` set, a broker still unreachable after that long raises :class:`KafkaUnavailable` so that a worker
  exits non-zero for its supervisor; a listener leaves it unset and waits for ever.
* A fatal consumer error closes the consumer and subscribes a new one, after a capped
  backoff; what was not committed is read again.
* ``idle_timeout_s`` ends the stream after that long without a message once partitions are
  assigned (replays, tests); ``stop()`` (safe from a signal handler or another thread) ends
  it after the batch in hand.

Light on purpose: confluent-kafka and the standard library only, so a TOM-only install (no
SQLAlchemy, no ML runtime) runs the listener on it. Any librdkafka setting passes through
(SASL/SSL included), from ``settings``, ``--kafka-option key=value`` or ``ALERCE_KAFKA_<KEY>``
environment variables, where ``_`` stands for ``.`` and ``__`` for a literal ``_``.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, KafkaException, TopicPartition

from classifier_service.stream.base import RawMessage, Unavailable

log = logging.getLogger(__name__)

ENV_PREFIX = "ALERCE_KAFKA_"
# What correctness needs, whatever the user passes: we commit, and only explicitly.
CONSUMER_REQUIRED = {"enable.auto.commit": False, "enable.auto.offset.store": False}
CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest"}
# Commit errors that only mean "you no longer own this partition": the new owner replays.
REBALANCE_ERRORS = {
    KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.UNKNOWN_MEMBER_ID, KafkaError._NO_OFFSET,
}
# Errors that say the brokers cannot be reached (rather than something about one message).
UNREACHABLE_ERRORS = {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE,
                      KafkaError._TIMED_OUT, KafkaError.COORDINATOR_NOT_AVAILABLE,
                      KafkaError.NOT_COORDINATOR, KafkaError._WAIT_COORD}
LOG_REPEAT_S = 30.0
# Once a batch's first message is in, how long to wait for more: short, so that a slow stream
# is not delayed to fill a batch, long enough to batch what arrives together.
DEFAULT_LINGER_S = 0.05
PROBE_EVERY_S = 5.0


class MutedRepeats:
    """A logger that drops a line logged in the last ``every_s`` seconds, numbers aside
    (librdkafka's "after 12ms", "3 identical error(s) suppressed"), and says how many it
    dropped when the line is logged again. confluent-kafka takes it as ``logger=``: it only calls
    ``log(level, format, *args)``."""

    NUMBERS = re.compile(r"\d+")

    def __init__(self, logger: logging.Logger, every_s: float = LOG_REPEAT_S) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._muted: dict[str, int] = {}

    def log(self, level: int, msg: str, *args: Any, key: str | None = None) -> None:
        line = msg % args if args else msg
        key = key or self.NUMBERS.sub("#", line)
        now = time.monotonic()
        if now - self._last.get(key, -self.every_s) < self.every_s:
            self._muted[key] = self._muted.get(key, 0) + 1
            return
        if len(self._last) > 1000:  # a bounded memory of what was said
            self._last.clear()
            self._muted.clear()
        self._last[key] = now
        muted = self._muted.pop(key, 0)
        self.logger.log(level, "%s%s", line, f" ({muted} more like it since it was last logged)" if muted else "")

    def forget(self, key: str) -> None:
        """Let the next line of ``key`` through (the trouble ended)."""
        self._last.pop(key, None)
        self._muted.pop(key, None)


class KafkaUnavailable(Unavailable):
    """The brokers stayed unreachable beyond the configured limit."""


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


def consumer_settings(bootstrap_servers: str, group_id: str,
                      settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The loop's consumer settings: defaults, then the user's, then what correctness needs."""
    return client_settings(bootstrap_servers, CONSUMER_DEFAULTS, settings or {}, {"group.id": group_id},
                           CONSUMER_REQUIRED)


def raw_message(message: Any) -> RawMessage:
    """A consumed confluent-kafka message as a RawMessage."""
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


def caught_up(bootstrap_servers: str, group_id: str, topic: str, timeout_s: float = 10.0) -> bool:
    """Whether ``group_id`` has committed every message of ``topic`` (False while that is not
    known: no such topic yet, or no answer within ``timeout_s``).

    Our consumers commit only what they have stored, so this is "the consumer is done": the
    demo waits on it instead of waiting for a count to stop growing. It reads from the group's
    committed offsets without joining the group: any message there is one not done yet. (Not
    from the high watermarks: tansu's counts a producer's batch as one message.)
    """
    consumer = Consumer(client_settings(bootstrap_servers, CONSUMER_DEFAULTS, {"group.id": group_id},
                                        CONSUMER_REQUIRED, {"enable.partition.eof": True}), logger=MutedRepeats(log))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return False
        consumer.assign([TopicPartition(topic, p, OFFSET_STORED) for p in metadata.partitions])
        waiting, deadline = set(metadata.partitions), time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is None or message.error().code() != KafkaError._PARTITION_EOF:
                return False  # a message after the committed offset (not done yet), or an error
            waiting.discard(message.partition())
        return not waiting
    except KafkaException as exc:
        log.debug("whether %s caught up with %s: %s", group_id, topic, exc)
        return False
    finally:
        consumer.close()


class Backoff:
    """Waits that double from ``first`` up to ``maximum``, cut short by a stop event."""

    def __init__(self, maximum: float, first: float = 0.5) -> None:
        self.first, self.maximum, self.delay = first, maximum, first

    def wait(self, stop: threading.Event) -> float:
        waited = self.delay
        stop.wait(waited)
        self.delay = min(self.delay * 2, self.maximum)
        return waited

    def reset(self) -> None:
        self.delay = self.first


class KafkaSource:
    """Batches from a consumer group (the policies are in the module's docstring).

    ``topics`` are names, or one regex starting with ``^`` (librdkafka's pattern
    subscription, which also picks up nightly topics created while running).
    """

    def __init__(
        self,
        topics: Sequence[str],
        *,
        bootstrap_servers: str,
        group_id: str,
        batch_size: int = 500,
        batch_timeout_s: float = 1.0,
        linger_s: float = DEFAULT_LINGER_S,
        idle_timeout_s: float | None = None,
        unreachable_limit_s: float | None = None,
        max_backoff_s: float = 30.0,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("KafkaSource needs at least one topic or topic pattern")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.topics = list(topics)
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.linger_s = linger_s
        self.idle_timeout_s = idle_timeout_s
        self.unreachable_limit_s = unreachable_limit_s
        self.settings = {**consumer_settings(bootstrap_servers, group_id, settings), "error_cb": self._on_error}
        self._backoff = Backoff(max_backoff_s)
        self._stopping = threading.Event()
        self._closed = False
        self._last_activity: float | None = None  # set when partitions are first assigned
        self._unreachable_since: float | None = None
        self._last_probe = 0.0
        self._log = MutedRepeats(log)
        self._assigned: frozenset[tuple[str, int]] = frozenset()
        self._consumer = self._subscribe()

    # --- the loop -----------------------------------------------------------------------
    def batches(self) -> Iterator[list[RawMessage]]:
        while not self._stopping.is_set():
            try:
                batch = [raw_message(m) for m in self._consume() if self._usable(m)]
            except KafkaException as exc:  # fatal: a new consumer reads again what was not committed
                self._resubscribe(exc)
                continue
            if batch:
                self._last_activity = time.monotonic()
                self._reachable()
                yield batch
            elif self._idle():
                log.info("no message for %.1f s: ending the stream", self.idle_timeout_s)
                return
            else:
                self._check_reachable()

    def _consume(self) -> list[Any]:
        """The first message (or nothing after ``batch_timeout_s``), then what comes within ``linger_s``."""
        messages = self._consumer.consume(num_messages=1, timeout=self.batch_timeout_s)
        if messages and self.batch_size > 1:
            messages += self._consumer.consume(num_messages=self.batch_size - 1, timeout=self.linger_s)
        return messages

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """Commit synchronously, retried while the brokers are unreachable (up to the limit);
        a partition lost to a rebalance is left to its new owner."""
        offsets = commit_offsets(batch)
        while offsets:
            try:
                self._consumer.commit(offsets=offsets, asynchronous=False)
                self._reachable()
                return
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() in REBALANCE_ERRORS:
                    log.warning("commit skipped after a rebalance (%s); the partition's new owner replays it",
                                error.str())
                    return
                self._unreachable(f"commit failed: {error.str()}")
                self._backoff.wait(self._stopping)
                if self._stopping.is_set():  # not committed: read again after the restart
                    log.warning("stopped before the commit could be made (%s)", error.str())
                    return

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member holds, as its last rebalance left them (safe
        from another thread, unlike asking the consumer while the loop waits in it)."""
        return set(self._assigned)

    def stop(self) -> None:
        """Finish the batch in hand, then end ``batches()`` (safe from a signal handler)."""
        self._stopping.set()

    def close(self) -> None:
        """Leave the group at once so the others take over the partitions without a timeout."""
        if not self._closed:
            self._closed = True
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("closing the Kafka consumer: %s", exc)

    # --- policies ------------------------------------------------------------------------
    def _subscribe(self) -> Consumer:
        consumer = Consumer(self.settings, logger=self._log)
        consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        return consumer

    def _resubscribe(self, exc: KafkaException) -> None:
        log.error("fatal Kafka consumer error (%s): subscribing again in %.1f s", exc, self._backoff.delay)
        self.close()
        self._backoff.wait(self._stopping)
        self._closed = False
        self._consumer = self._subscribe()

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
        self._log_once(f"consumer error: {error.str()}")
        return False

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error callback: the brokers' reachability and other client errors."""
        if error.fatal():
            log.error("fatal Kafka error: %s", error.str())
        elif error.code() in UNREACHABLE_ERRORS:
            self._unreachable(error.str())
        else:
            self._log_once(f"Kafka: {error.str()}")

    def _unreachable(self, why: str) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        down_for = now - self._unreachable_since
        self._log_once(f"Kafka at {self.bootstrap_servers} unreachable ({why}); waiting", key="unreachable")
        if self.unreachable_limit_s is not None and down_for > self.unreachable_limit_s:
            raise KafkaUnavailable(f"Kafka at {self.bootstrap_servers} unreachable for {down_for:.0f} s "
                                   f"(limit {self.unreachable_limit_s:.0f} s): {why}")

    def _check_reachable(self) -> None:
        """While the brokers seem down and no message comes, ask for metadata now and then:
        an answer means they are back; none, past the limit, raises."""
        if self._unreachable_since is None or time.monotonic() - self._last_probe < PROBE_EVERY_S:
            return
        self._last_probe = time.monotonic()
        try:
            self._consumer.list_topics(timeout=2.0)
        except KafkaException as exc:
            self._unreachable(str(exc.args[0].str() if exc.args else exc))
            return
        self._reachable()

    def _reachable(self) -> None:
        if self._unreachable_since is not None:
            log.info("Kafka at %s reachable again after %.0f s", self.bootstrap_servers,
                     time.monotonic() - self._unreachable_since)
            self._unreachable_since = None
            self._log.forget("unreachable")
        self._backoff.reset()

    def _log_once(self, line: str, key: str | None = None) -> None:
        """One warning line per kind of trouble every LOG_REPEAT_S, not one per retry."""
        self._log.log(logging.WARNING, "%s", line, key=key)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._last_activity = time.monotonic()  # idle time counts from the (re)assignment
        self._reachable()
        self._assigned |= {(p.topic, p.partition) for p in partitions}
        log.info("assigned partitions %s", _partition_names(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._assigned -= {(p.topic, p.partition) for p in partitions}
        log.info("revoked partitions %s", _partition_names(partitions))


def _partition_names(partitions: Sequence[TopicPartition]) -> str:
    return "[" + ", ".join(f"{p.topic}/{p.partition}" for p in partitions) + "]"
