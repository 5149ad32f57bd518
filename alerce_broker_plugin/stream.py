"""The live listener: classifier_service's classified topic into TOM targets.

A tom-alertstreams ``AlertStream``, started by ``manage.py readstreams``:

    ALERT_STREAMS = [{
        "NAME": "alerce_broker_plugin.stream.ClassifiedAlertStream",
        "OPTIONS": {
            "BOOTSTRAP_SERVERS": "localhost:9092",
            "TOPIC": "alerce-classified",
            "GROUP_ID": "my-tom",                     # default tom-alerce-listener
            "FILTERS": [{"name": "SNe", "classifier": "stamp_classifier", "class_name": "SN",
                         "min_probability": 0.5}],   # see alerce_broker_plugin.filters
            "CONSUMER_CONFIG": {},                    # any librdkafka setting
        },
    }]

Each alert that passes a filter creates or updates its target, joins the filter's
TargetList, gets the message's photometry and classifications (through the same
:mod:`alerce_broker_plugin.ingest` as the DataService) and, when anything changed, fires
the ``alerce_alert_received`` hook: ``HOOKS["alerce_alert_received"]`` is called with
``target``, ``alert`` (the decoded message), ``created`` and ``filters`` (the names it
passed), for follow-up and TNS rules. The same alert twice changes nothing and fires nothing.

Offsets are committed only after an alert is stored (or judged unreadable and logged), so
a crash or a broker outage replays alerts rather than losing them; a failing database or
broker is retried with exponential backoff.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string
from tom_alertstreams.alertstreams.alertstream import AlertStream
from tom_common.hooks import run_hook
from tom_targets.models import TargetList

from alerce_broker_plugin import config, ingest
from alerce_broker_plugin.filters import DEFAULT_FILTERS, AlertFilter

log = logging.getLogger(__name__)

ALERT_HOOK = "alerce_alert_received"
DEFAULT_DECODER = "alerce_contract.classified.decode_classified"
CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest"}
CONSUMER_REQUIRED = {"enable.auto.commit": False}  # we commit, after storing


class BadMessage(ValueError):
    """A message that can never be ingested: logged and skipped, never retried."""


@dataclass
class HandleOutcome:
    oid: str | None = None
    matched: list[str] = field(default_factory=list)  # names of the filters it passed
    created: bool = False
    changed: bool = False


@dataclass
class ListenReport:
    messages: int = 0
    bad_messages: int = 0
    ingested: int = 0  # passed a filter and stored
    changed: int = 0


class ClassifiedAlertStream(AlertStream):
    required_keys = ["BOOTSTRAP_SERVERS", "TOPIC"]
    allowed_keys = ["BOOTSTRAP_SERVERS", "TOPIC", "GROUP_ID", "FILTERS", "CONSUMER_CONFIG", "DECODER",
                    "POLL_TIMEOUT_S", "MAX_BACKOFF_S", "TOPIC_HANDLERS"]
    # Defaults for the optional OPTIONS (AlertStream sets the given ones as lower-case attributes).
    topic_handlers: dict[str, str] = {}
    group_id = "tom-alerce-listener"
    filters: list[dict[str, Any]] = list(DEFAULT_FILTERS)  # see alerce_broker_plugin.filters
    consumer_config: dict[str, Any] = {}
    decoder = DEFAULT_DECODER
    poll_timeout_s = 1.0
    max_backoff_s = 30.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.alert_filters = [AlertFilter.from_config(dict(f)) for f in self.filters]
        self.decode: Callable[[bytes], dict[str, Any]] = import_string(self.decoder)
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask ``listen`` to return after the message in hand."""
        self._stop.set()

    # --- One message ------------------------------------------------------------------------

    def handle_payload(self, payload: bytes | None, location: str = "") -> HandleOutcome:
        """Decode, filter and ingest one message; BadMessage if it can never be ingested."""
        try:
            message = self.decode(payload or b"")
            obj = ingest.object_from_stream(message)
        except ValueError as exc:
            raise BadMessage(f"{location}: {exc}") from exc
        matched = [f for f in self.alert_filters if f.matches(message)]
        outcome = HandleOutcome(oid=obj.oid, matched=[f.name for f in matched])
        if self.alert_filters and not matched:
            return outcome
        with transaction.atomic():
            result = ingest.ingest_object(obj, source_name=config.SERVICE_NAME, source_location=location)
            for alert_filter in matched:
                target_list, _ = TargetList.objects.get_or_create(name=alert_filter.target_list_name)
                if not target_list.targets.filter(pk=result.target.pk).exists():
                    target_list.targets.add(result.target)
                    result.changed = True
        outcome.created, outcome.changed = result.created, result.changed
        if result.changed:
            run_hook(ALERT_HOOK, target=result.target, alert=message, created=result.created,
                     filters=outcome.matched)
        return outcome

    # --- The loop ---------------------------------------------------------------------------

    def consumer_settings(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap_servers, "group.id": self.group_id,
                "error_cb": _log_kafka_error, **CONSUMER_DEFAULTS, **self.consumer_config, **CONSUMER_REQUIRED}

    def listen(self, stop_after_idle_s: float | None = None) -> ListenReport:
        """Consume until ``stop()``; never raises for a bad message, a failing database or an
        unreachable broker.

        ``stop_after_idle_s`` (for batch runs and tests) also returns once partitions are
        assigned and no message has come for that long.
        """
        report = ListenReport()
        backoff = _Backoff(self.max_backoff_s)
        consumer = None
        self._idle_since: float | None = None  # set on partition assignment
        while not self._stop.is_set():
            if consumer is None:
                consumer = self._connect(backoff)
                continue
            message = consumer.poll(self.poll_timeout_s)
            if message is None:
                if (stop_after_idle_s is not None and self._idle_since is not None
                        and time.monotonic() - self._idle_since >= stop_after_idle_s):
                    break
                continue
            self._idle_since = time.monotonic()
            if message.error():
                if message.error().fatal():
                    log.error("fatal Kafka error, reconnecting: %s", message.error())
                    _close(consumer)
                    consumer = None
                elif message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka: %s", message.error())
                continue
            if self._process(message, report, backoff):
                _commit(consumer, message)
        _close(consumer)
        return report

    def _connect(self, backoff: "_Backoff") -> Consumer | None:
        try:
            consumer = Consumer(self.consumer_settings())
            consumer.subscribe([self.topic], on_assign=self._on_assign)
            return consumer
        except KafkaException as exc:
            log.error("cannot subscribe to %s at %s: %s", self.topic, self.bootstrap_servers, exc)
            backoff.wait(self._stop)
            return None

    def _on_assign(self, _consumer: Consumer, partitions: list) -> None:
        log.info("listening to %s", ", ".join(f"{p.topic}/{p.partition}" for p in partitions))
        self._idle_since = time.monotonic()

    def _process(self, message: Any, report: ListenReport, backoff: "_Backoff") -> bool:
        """Handle one message, retrying (with backoff) whatever is not the message's fault.

        Returns whether its offset may be committed: False only when stopped mid-retry,
        so the message is read again on restart.
        """
        location = f"kafka://{message.topic()}/{message.partition()}/{message.offset()}"
        report.messages += 1
        while not self._stop.is_set():
            try:
                outcome = self.handle_payload(message.value(), location)
            except BadMessage as exc:
                report.bad_messages += 1
                log.error("skipping unreadable message: %s", exc)
                return True
            except Exception:
                log.exception("could not store %s; retrying", location)
                close_old_connections()
                backoff.wait(self._stop)
                continue
            backoff.reset()
            report.ingested += bool(outcome.matched or not self.alert_filters)
            report.changed += outcome.changed
            return True
        return False


class _Backoff:
    """Exponential waits from 0.5 s up to ``maximum``, cut short by a stop event."""

    def __init__(self, maximum: float) -> None:
        self.maximum, self.delay = maximum, 0.5

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.delay)
        self.delay = min(self.delay * 2, self.maximum)

    def reset(self) -> None:
        self.delay = 0.5


def _commit(consumer: Consumer, message: Any) -> None:
    try:
        consumer.commit(message=message, asynchronous=False)
    except KafkaException as exc:  # the alert is stored: a replay after rebalance changes nothing
        log.warning("commit of %s/%s/%s failed: %s", message.topic(), message.partition(), message.offset(), exc)


def _close(consumer: Consumer | None) -> None:
    if consumer is not None:
        try:
            consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("closing the Kafka consumer: %s", exc)


def _log_kafka_error(error: KafkaError) -> None:
    log.warning("Kafka: %s", error)
