"""The batch loop: the only place that knows the order of the stages.

Decode → Parse → LightCurves → Cutouts → Classify → Store → Publish, in the style of
ALeRCE's APF steps: each stage is one class with one ``execute(batch)`` that works on the
whole batch at once. An alert that fails a stage becomes a dead letter (its raw bytes, the
stage and the reason) and the batch carries on without it. An infrastructure failure (the
database or a sink unreachable) is not the alert's fault: the whole batch is retried with
capped backoff, nothing committed meanwhile, until ``max_outage_s`` passes (then the run
raises :class:`~classifier_service.stream.base.Unavailable` for its supervisor).

Memory stays bounded whatever arrives: a container block inflates to at most 16 MiB and a
record is at most 4 MiB encoded (``surveys.avro.MAX_BLOCK_BYTES``, ``MAX_RECORD_BYTES``), a
stamp to at most 2 MB, each checked before anything of that size is allocated, and a
refused payload is dropped before the next is read. tests/service/test_ingest_fuzz.py holds
``replay --batch-size 100`` under 1 GiB peak RSS over 1,600 hostile mutants (bombs of up
to 1 GiB included); it measures about 590 MB, what the real alerts alone take.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from classifier_service.alert import Alert, Cutouts
from classifier_service.classifiers.base import Classification, Classifier, ClassifierInput
from classifier_service.cutouts import CutoutError, decode_cutouts
from classifier_service.lightcurve import ObjectSummary, merge_with_stored, summarise
from classifier_service.store import BatchWrite, RejectedRows, Store
from classifier_service.store import rows as store_rows
from classifier_service.stream.base import ClassifiedAlert, DeadLetter, RawMessage, Sink, Source, Unavailable
from classifier_service.stream.consumer import Backoff
from classifier_service.surveys import parse_record
from classifier_service.surveys.known_history import StoredHistory, decode_batch
from classifier_service.surveys.registry import SchemaRegistry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AlertItem:
    """One alert on its way through the stages."""

    message: RawMessage
    source: str  # the message's source, "#k" appended when a message holds several alerts
    record: dict[str, Any] | None = None
    alert: Alert | None = None
    is_first_alert: bool = False
    classifications: list[Classification] = field(default_factory=list)
    rejected: bool = False


@dataclass
class Batch:
    """What the stages share: the surviving alerts, the dead letters, the rows to write."""

    messages: Sequence[RawMessage]
    items: list[AlertItem] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    summaries: dict[str, ObjectSummary] = field(default_factory=dict)
    stored: StoredHistory = field(default_factory=StoredHistory)  # read once, by Decode or LightCurves
    stored_detections: dict[str, dict[int, tuple[bool, bool]]] = field(default_factory=dict)
    stored_non_detections: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    # Objects whose stored classifications come from a newer alert than any in this batch,
    # and the classifier names stored for them.
    superseded: set[str] = field(default_factory=set)
    stored_classifiers: set[tuple[str, str]] = field(default_factory=set)
    classified: list[ClassifiedAlert] = field(default_factory=list)

    def dead_letter(self, item: AlertItem, stage: str, reason: str) -> None:
        """Keep the alert's raw bytes, the stage and the reason."""
        alert = item.alert
        log.warning("dead letter [%s] %s: %s", stage, item.source, reason)
        self.dead_letters.append(DeadLetter(
            source=item.source, stage=stage, reason=reason, payload=item.message.payload,
            oid=alert.oid if alert else None, candid=alert.candid if alert else None))

    def reject(self, item: AlertItem, stage: str, reason: str) -> None:
        """Route one alert aside as a dead letter; later stages no longer see it."""
        self.dead_letter(item, stage, reason)
        item.rejected = True

    def prune(self) -> None:
        self.items = [item for item in self.items if not item.rejected]

    def by_object(self) -> dict[str, list[AlertItem]]:
        """Surviving alerts grouped by oid, each group oldest candidate first."""
        groups: dict[str, list[AlertItem]] = defaultdict(list)
        for item in self.items:
            groups[item.alert.oid].append(item)
        for group in groups.values():
            group.sort(key=lambda item: (item.alert.candidate.mjd, item.alert.candid))
        return groups


@dataclass
class BatchReport:
    n_alerts: int
    n_dead_letters: int
    stage_seconds: dict[str, float]
    classified: list[ClassifiedAlert]
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass
class RunReport:
    n_batches: int = 0
    n_alerts: int = 0
    n_dead_letters: int = 0
    dead_letters_by_stage: Counter = field(default_factory=Counter)
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    seconds: float = 0.0

    @property
    def alerts_per_s(self) -> float:
        return self.n_alerts / self.seconds if self.seconds > 0 else 0.0

    def add(self, report: BatchReport) -> None:
        self.n_batches += 1
        self.n_alerts += report.n_alerts
        self.n_dead_letters += report.n_dead_letters
        self.dead_letters_by_stage.update(letter.stage for letter in report.dead_letters)
        for stage, seconds in report.stage_seconds.items():
            self.stage_seconds[stage] += seconds


class Decode:
    """Avro payloads to records; an unreadable payload is dead as a whole.

    Wire-format messages (Rubin's live stream) take their writer schema from ``registry``.
    With a ``store``, the batch's ZTF objects are read from it here, and the history entries
    it already holds are dropped before parsing (:mod:`classifier_service.surveys.known_history`).
    """

    name = "decode"

    def __init__(self, registry: SchemaRegistry | None = None, store: Store | None = None) -> None:
        self.registry = registry
        self.store = store

    def execute(self, batch: Batch) -> Batch:
        readable = []
        for message in batch.messages:
            if message.unreadable is None:
                readable.append(message)
            else:
                batch.reject(AlertItem(message, message.source), self.name, message.unreadable)
        payloads = [message.payload for message in readable]
        for message, records in zip(readable, decode_batch(payloads, self.store, self.registry, batch.stored)):
            if isinstance(records, ValueError):  # AlertParseError
                batch.reject(AlertItem(message, message.source), self.name, str(records))
                continue
            if not records:
                batch.reject(AlertItem(message, message.source), self.name, "container holds no alert")
            for k, record in enumerate(records):
                source = message.source if len(records) == 1 else f"{message.source}#{k}"
                batch.items.append(AlertItem(message, source, record=record))
        return batch


class Parse:
    """Records to the shared alert model through the survey adapters."""

    name = "parse"

    def execute(self, batch: Batch) -> Batch:
        for item in batch.items:
            try:
                item.alert = parse_record(item.record)
            except Exception as exc:  # noqa: BLE001: whatever a malformed packet raises, it goes aside
                batch.reject(item, self.name, f"{type(exc).__name__}: {exc}")
            item.record = None  # the alert model holds everything needed from here on
        batch.prune()
        return batch


class LightCurves:
    """Merge each object's new detections with the stored ones; correct and summarise."""

    name = "lightcurve"

    def __init__(self, store: Store) -> None:
        self.store = store

    def execute(self, batch: Batch) -> Batch:
        self._reject_candid_collisions(batch)
        groups = batch.by_object()
        batch.stored.read_from(self.store, groups)  # those Decode did not read (Rubin's, say)
        stored_det, stored_nd = batch.stored.detections, batch.stored.non_detections
        for oid, items in groups.items():
            try:
                self._summarise(batch, oid, items, stored_det.get(oid, []), stored_nd.get(oid, []))
            except Exception as exc:  # noqa: BLE001: one object's bad data must not stop the batch
                for item in items:
                    batch.reject(item, self.name, f"{type(exc).__name__}: {exc}")
        if batch.superseded:
            batch.stored_classifiers = self.store.classifier_names_of(sorted(batch.superseded))
        batch.prune()
        return batch

    def _reject_candid_collisions(self, batch: Batch) -> None:
        """A candid belongs to one object: an alert whose candidate or history claims a candid
        stored (or claimed earlier in the batch) for another object is a dead letter, alone.
        The store checks again on write (Store._check_candid_owners)."""
        owners = {row["candid"]: oid for oid, rows in batch.stored.detections.items() for row in rows}
        owners.update(self.store.owners_of(
            [d.candid for item in batch.items for d in item.alert.detections if d.candid not in owners]))
        for item in batch.items:
            oid = item.alert.oid
            candids = sorted({d.candid for d in item.alert.detections})
            taken = next(((candid, owners[candid]) for candid in candids if owners.get(candid, oid) != oid), None)
            if taken is not None:
                batch.reject(item, self.name, f"candid collision: candid {taken[0]} belongs to {taken[1]}, not {oid}")
                continue
            owners.update(dict.fromkeys(candids, oid))
        batch.prune()

    @staticmethod
    def _summarise(batch: Batch, oid: str, items: list[AlertItem], stored_det: list, stored_nd: list) -> None:
        alerts = [item.alert for item in items]
        merged_det, merged_nd = merge_with_stored(
            [d for a in alerts for d in (*a.prv_detections, a.candidate)],
            [n for a in alerts for n in a.non_detections], stored_det, stored_nd)
        latest = alerts[-1]
        batch.summaries[oid] = summarise(oid, merged_det, merged_nd, latest.metadata, latest.survey)
        batch.stored_detections[oid] = {
            row["candid"]: (bool(row["dubious"]), bool(row["has_stamp"])) for row in stored_det}
        batch.stored_non_detections[oid] = set(store_rows.non_detection_keys(
            [row["mjd"] for row in stored_nd], [row["fid"] for row in stored_nd]))
        stamped = merged_det["candid"][merged_det["has_stamp"]]
        first_candid = int(stamped.min()) if stamped.size else None
        newest_stored = max((row["mjd"] for row in stored_det if row["has_stamp"]), default=None)
        if newest_stored is not None and newest_stored > latest.candidate.mjd:
            batch.superseded.add(oid)
        for item in items:
            item.is_first_alert = item.alert.candid == first_candid


class CheckCutouts:
    """Check the stamps of each object's first alert: the ones stored and classified.

    An undecodable stamp becomes a dead letter; the alert goes on without its stamps.
    """

    name = "cutout"

    def execute(self, batch: Batch) -> Batch:
        for item in batch.items:
            stamps = item.alert.cutouts
            if not item.is_first_alert or not stamps.present():
                continue
            try:
                decode_cutouts(stamps)
            except CutoutError as exc:
                batch.dead_letter(item, self.name, str(exc))
                item.alert.cutouts = Cutouts()
        return batch


class Classify:
    """Run each registered classifier on the batch's alerts of its surveys (a ZTF model never
    answers for a Rubin alert); isolate an alert that breaks one."""

    name = "classify"

    def __init__(self, classifiers: Sequence[Classifier]) -> None:
        self.classifiers = list(classifiers)

    def execute(self, batch: Batch) -> Batch:
        if not self.classifiers or not batch.items:
            return batch
        for classifier in self.classifiers:
            items = [item for item in batch.items if item.alert.survey in classifier.surveys]
            if not items:
                continue
            inputs = [ClassifierInput(item.alert, batch.summaries[item.alert.oid].lightcurve, item.is_first_alert)
                      for item in items]
            try:
                results = self._checked(classifier, inputs)
                for item, result in zip(items, results):
                    item.classifications.append(result)
            except Exception as exc:  # a whole-batch failure: find the alerts that cause it
                log.warning("%s failed on a batch (%s); retrying alert by alert", classifier.name, exc)
                for item, one in zip(items, inputs):
                    if item.rejected:
                        continue
                    try:
                        item.classifications.extend(self._checked(classifier, [one]))
                    except Exception as exc_one:  # noqa: BLE001 (any classifier error)
                        batch.reject(item, self.name, f"{classifier.name}: {type(exc_one).__name__}: {exc_one}")
        batch.prune()
        return batch

    @staticmethod
    def _checked(classifier: Classifier, inputs: list[ClassifierInput]) -> list[Classification]:
        results = classifier.classify(inputs)
        if len(results) != len(inputs):
            raise ValueError(f"{classifier.name} returned {len(results)} results for {len(inputs)} inputs")
        for result in results:  # features are versioned with their classifier unless it says otherwise
            result.feature_version = result.feature_version or classifier.version
        return results


class StoreStage:
    """Every row of the batch, written in one transaction of idempotent upserts.

    When the database refuses the batch for its data (a NOT NULL or length violation),
    each object is written on its own so that only the offending alerts become dead
    letters; a database that cannot be reached stops the run instead.
    """

    name = "store"

    def __init__(self, store: Store, classifiers: Sequence[Classifier]) -> None:
        self.store = store
        self.classifiers = list(classifiers)
        self._taxonomy_written = False

    def execute(self, batch: Batch) -> Batch:
        groups = batch.by_object()
        per_object = {oid: self._object_rows(batch, oid, items) for oid, items in groups.items()}
        try:
            self.store.write(self._with_bookkeeping(batch, BatchWrite.combine(per_object.values())))
        except RejectedRows as exc:
            log.warning("the store refused a batch (%s); writing object by object", exc)
            for oid, rows in per_object.items():
                try:
                    self.store.write(rows)
                except RejectedRows as exc_one:
                    for item in groups[oid]:
                        batch.reject(item, self.name, str(exc_one))
            batch.prune()
            self.store.write(self._with_bookkeeping(batch, BatchWrite()))
        self._taxonomy_written = True
        return batch

    def _with_bookkeeping(self, batch: Batch, rows: BatchWrite) -> BatchWrite:
        """Add the batch's dead letters and, once per worker, the classifiers' taxonomies."""
        if not self._taxonomy_written:
            rows.taxonomies = store_rows.taxonomy_rows(self.classifiers)
        rows.dead_letters = [store_rows.dead_letter_row(letter) for letter in batch.dead_letters]
        return rows

    @staticmethod
    def _object_rows(batch: Batch, oid: str, items: list[AlertItem]) -> BatchWrite:
        summary = batch.summaries[oid]
        alerts = [item.alert for item in items]
        rows = BatchWrite(objects=[summary.object_row], magstats=list(summary.magstat_rows))
        rows.detections = store_rows.detection_rows(
            (d for a in alerts for d in (*a.prv_detections, a.candidate)),
            summary.detections, batch.stored_detections[oid])
        rows.non_detections = store_rows.non_detection_rows(
            (n for a in alerts for n in a.non_detections), batch.stored_non_detections[oid])
        rows.forced_photometry = store_rows.forced_photometry_rows(
            [fp for a in alerts for fp in a.forced_photometry], batch.stored.forced_photometry)
        for item in items:
            if item.is_first_alert:
                rows.features.extend(store_rows.host_feature_rows(item.alert))
                if item.alert.cutouts.present():
                    rows.cutouts.append(store_rows.cutout_row(item.alert))
            for classification in item.classifications:
                if oid in batch.superseded and any(  # an old alert replayed late fills gaps only
                        (oid, out.classifier_name) in batch.stored_classifiers for out in classification.outputs):
                    continue
                rows.probabilities.extend(store_rows.probability_rows(oid, classification.outputs))
                rows.features.extend(store_rows.feature_rows(oid, classification))
        return rows


class Publish:
    """Hand each stored alert's classifications (and the dead letters) to every sink."""

    name = "publish"

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def execute(self, batch: Batch) -> Batch:
        for item in batch.items:
            alert, summary = item.alert, batch.summaries[item.alert.oid]
            candidate = alert.candidate
            batch.classified.append(ClassifiedAlert(
                oid=alert.oid, candid=alert.candid, survey=alert.survey, ra=candidate.ra,
                dec=candidate.dec, mjd=candidate.mjd, fid=candidate.fid, magpsf=candidate.magpsf,
                sigmapsf=candidate.sigmapsf, ndet=summary.object_row["ndet"],
                firstmjd=summary.object_row["firstmjd"], lastmjd=summary.object_row["lastmjd"],
                classifications=[out for c in item.classifications for out in c.outputs],
                lightcurve=summary.lightcurve,
                ssnamenr=alert.metadata.get("ssnamenr"), ssdistnr=alert.metadata.get("ssdistnr"),
            ))
        for sink in self.sinks:
            sink.publish(batch.classified, batch.dead_letters)
        return batch


# Allocations between two collections of the youngest generation during a run (Python's default: 700).
GC_YOUNG_THRESHOLD = 10_000

# What "unreachable" looks like: a connection refused, dropped or timed out, a sink unacknowledged.
INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, Unavailable)
# SQLite raises OperationalError for a wrong schema too ("no such table") and for a store it
# may read but not write ("attempt to write a readonly database"); waiting cannot mend those,
# so they end the run at once instead of being retried as an outage.
NOT_OUTAGES = ("no such table", "no such column", "has no column", "syntax error", "readonly database")


def is_outage(exc: BaseException) -> bool:
    """An error worth waiting out: the database or a sink unreachable, not a broken schema or a
    read-only store."""
    if not isinstance(exc, INFRASTRUCTURE_ERRORS):
        return False
    text = str(getattr(exc, "orig", None) or exc).lower()
    return not any(marker in text for marker in NOT_OUTAGES)


class Worker:
    """Strings the stages together over a source; commits only after store and sinks."""

    def __init__(self, source: Source, store: Store, classifiers: Sequence[Classifier] = (),
                 sinks: Sequence[Sink] = (), schema_registry: SchemaRegistry | None = None,
                 max_outage_s: float = 600.0, max_backoff_s: float = 30.0) -> None:
        self.source = source
        self.store = store
        self.classifiers = list(classifiers)
        self.sinks = list(sinks)
        self.max_outage_s = max_outage_s
        self.max_backoff_s = max_backoff_s
        self.stopping = threading.Event()  # cuts a wait between retries short
        self.stages = [Decode(schema_registry, store), Parse(), LightCurves(store), CheckCutouts(),
                       Classify(self.classifiers), StoreStage(store, self.classifiers), Publish(self.sinks)]

    def process(self, batch: Sequence[RawMessage]) -> BatchReport:
        """Everything but the commit: decode, parse, light curves, classify, store, publish."""
        state = Batch(messages=batch)
        seconds: dict[str, float] = {}
        for stage in self.stages:
            start = time.perf_counter()
            state = stage.execute(state)
            seconds[stage.name] = time.perf_counter() - start
        return BatchReport(n_alerts=len(state.classified), n_dead_letters=len(state.dead_letters),
                           stage_seconds=seconds, classified=state.classified,
                           dead_letters=state.dead_letters)

    def run(self, max_batches: int | None = None) -> RunReport:
        """Batches from the source until it ends (or ``max_batches``), each committed when done."""
        report = RunReport()
        start = time.perf_counter()
        # Decoding allocates thousands of short-lived dicts per batch: collections are spaced
        # out, and the models and modules loaded so far are not scanned again by each one.
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
        gc.freeze()
        try:
            for messages in self.source.batches():
                if not messages:
                    continue
                report.add(self.complete(messages))
                if max_batches is not None and report.n_batches >= max_batches:
                    break
        finally:
            gc.unfreeze()
            gc.set_threshold(*threshold)
        report.seconds = time.perf_counter() - start
        return report

    def complete(self, messages: Sequence[RawMessage]) -> BatchReport:
        """Process, flush every sink and commit one batch; while the database or a sink is
        unreachable, the same batch again after a capped backoff (the store's upserts make a
        second pass change nothing), until ``max_outage_s``."""
        backoff, down_since = Backoff(self.max_backoff_s), None
        while True:
            try:
                batch_report = self.process(messages)
                for sink in self.sinks:
                    sink.flush()
                self.source.commit(messages)
            except INFRASTRUCTURE_ERRORS as exc:
                if not is_outage(exc):
                    raise
                now = time.monotonic()
                down_since = down_since or now
                reason = _one_line(exc)
                if now - down_since >= self.max_outage_s or self.stopping.is_set():
                    raise Unavailable(f"unreachable for {now - down_since:.0f} s "
                                      f"(limit {self.max_outage_s:.0f} s): {reason}") from exc
                log.warning("batch of %d messages not done, retrying in %.1f s: %s",
                            len(messages), backoff.delay, reason)
                backoff.wait(self.stopping)
                continue
            if down_since is not None:
                log.info("reachable again after %.0f s: batch done", time.monotonic() - down_since)
            return batch_report

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.source.close()


def _one_line(exc: BaseException) -> str:
    """The first line of an error (SQLAlchemy's carry the statement and a link after it)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
