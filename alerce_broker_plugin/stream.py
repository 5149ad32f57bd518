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
``target``, ``alert`` (the decoded message, with every field of the schema this TOM ships:
ssnamenr/ssdistnr tell the TNS policy a known asteroid), ``created`` and ``filters`` (the names
it passed), for follow-up and TNS rules. The same alert twice changes nothing and fires nothing.

Offsets are committed only after an alert is stored (or judged unreadable and logged), so
a crash or a broker outage replays alerts rather than losing them; a failing database is
retried with exponential backoff, an unreachable broker waited for (the one consumer loop of
classifier_service.stream.consumer).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string
from tom_alertstreams.alertstreams.alertstream import AlertStream
from tom_common.hooks import run_hook
from tom_targets.models import TargetList

from alerce_broker_plugin import config, ingest
from alerce_broker_plugin.filters import DEFAULT_FILTERS, AlertFilter

if TYPE_CHECKING:
    from classifier_service.stream.base import RawMessage
    from classifier_service.stream.consumer import Backoff, KafkaSource

log = logging.getLogger(__name__)

ALERT_HOOK = "alerce_alert_received"
DEFAULT_DECODER = "alerce_contract.classified.decode_classified"
BATCH_SIZE = 100  # messages consumed at once; committed together once all are stored


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
        try:
            self.decode: Callable[[bytes], dict[str, Any]] = import_string(self.decoder)
        except ImportError as exc:
            raise ImportError(f"DECODER {self.decoder!r} cannot be imported: {exc}") from exc
        self._stop = threading.Event()
        self._source: KafkaSource | None = None

    def stop(self) -> None:
        """Ask ``listen`` to return after the message in hand."""
        self._stop.set()
        if self._source is not None:
            self._source.stop()

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

    # --- The loop: classifier_service's one consumer loop -----------------------------------

    def consumer_settings(self) -> dict[str, Any]:
        """The librdkafka settings the listener's consumer runs with (CONSUMER_CONFIG included)."""
        from classifier_service.stream.consumer import consumer_settings

        return consumer_settings(self.bootstrap_servers, self.group_id, self.consumer_config)

    def listen(self, stop_after_idle_s: float | None = None) -> ListenReport:
        """Consume until ``stop()``; never raises for a bad message, a failing database or an
        unreachable broker.

        Consuming, committing (after each batch is stored), idle time, partition EOFs and broker
        errors follow classifier_service's one consumer loop (:mod:`classifier_service.stream.consumer`,
        light: confluent-kafka only); what to do with each message is here. ``stop_after_idle_s``
        (for batch runs and tests) also returns once partitions are assigned and no message has
        come for that long.
        """
        from classifier_service.stream.consumer import Backoff, KafkaSource

        report = ListenReport()
        backoff = Backoff(self.max_backoff_s)
        self._source = KafkaSource(
            [self.topic], bootstrap_servers=self.bootstrap_servers, group_id=self.group_id,
            batch_size=BATCH_SIZE, batch_timeout_s=self.poll_timeout_s, idle_timeout_s=stop_after_idle_s,
            max_backoff_s=self.max_backoff_s, settings=self.consumer_config)
        if self._stop.is_set():
            self._source.stop()
        try:
            for batch in self._source.batches():
                done = []
                for message in batch:
                    if not self._process(message, report, backoff):
                        break
                    done.append(message)
                self._source.commit(done)
        finally:
            self._source.close()
        return report

    def _process(self, message: RawMessage, report: ListenReport, backoff: Backoff) -> bool:
        """Handle one message, retrying (with backoff) whatever is not the message's fault.

        Returns whether its offset may be committed: False only when stopped mid-retry,
        so the message is read again on restart.
        """
        location = f"kafka://{message.source}"
        report.messages += 1
        while not self._stop.is_set():
            try:
                outcome = self.handle_payload(message.payload, location)
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
