"""Timing wrappers around the worker's collaborators, and what a benchmark run reports.

The worker is benchmarked unchanged: its source, sinks and classifiers are wrapped so that
waiting for input, committing, delivery and each classifier are timed where they happen.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifier_service.classifiers.base import Classification, Classifier, ClassifierInput
from classifier_service.stream.base import ClassifiedAlert, DeadLetter, RawMessage, Sink, Source


# Parts of a classifier worth timing apart, where the classifier exposes them:
# classifier name -> (label, attribute path to the part, method). Each call counts its
# first argument's length as items: stamps for the CNN, light curves (objects) for the
# features, rows for the forest; a call is one batch.
COMPONENTS: dict[str, list[tuple[str, str, str]]] = {
    "stamp_classifier": [("cnn", "", "predict")],
    "lc_classifier": [("features", "extractor", "compute"), ("forest", "bundle.forest", "predict_proba")],
}


@dataclass
class Timings:
    """Seconds spent per activity, and each batch's wall time from arrival to commit."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    batch_latencies: list[tuple[int, float]] = field(default_factory=list)  # (n messages, s)

    def clear(self) -> None:
        for measure in (self.seconds, self.calls, self.items, self.batch_latencies):
            measure.clear()

    def add(self, other: "Timings") -> None:
        """Another process's timings added to these (workers side by side)."""
        for mine, theirs in ((self.seconds, other.seconds), (self.calls, other.calls), (self.items, other.items)):
            for key, value in theirs.items():
                mine[key] += value
        self.batch_latencies.extend(other.batch_latencies)

    def components(self) -> dict[str, dict[str, float]]:
        """Per timed component: seconds per call (batch) and per item (stamp, object, row)."""
        return {
            name: {"calls": self.calls[name], "items": self.items[name],
                   "s_per_call": self.seconds[name] / self.calls[name],
                   "s_per_item": self.seconds[name] / max(self.items[name], 1)}
            for name in self.calls if self.calls[name]
        }

    @contextmanager
    def timing(self, activity: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[activity] += time.perf_counter() - start


class TimedSource:
    """Times waiting for batches ("consume") and committing; each batch's arrival → commit."""

    def __init__(self, source: Source, timings: Timings) -> None:
        self.source = source
        self.timings = timings
        self._arrived = 0.0

    def batches(self) -> Iterator[Sequence[RawMessage]]:
        batches = iter(self.source.batches())
        while True:
            with self.timings.timing("consume"):
                batch = next(batches, None)
            if batch is None:
                return
            self._arrived = time.perf_counter()
            yield batch

    def commit(self, batch: Sequence[RawMessage]) -> None:
        with self.timings.timing("commit"):
            self.source.commit(batch)
        self.timings.batch_latencies.append((len(batch), time.perf_counter() - self._arrived))

    def close(self) -> None:
        self.source.close()


class TimedSink:
    """Times the wait for delivery ("flush"); publishing is the worker's own publish stage."""

    def __init__(self, sink: Sink, timings: Timings) -> None:
        self.sink = sink
        self.timings = timings

    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        self.sink.publish(alerts, dead_letters)

    def flush(self) -> None:
        with self.timings.timing("flush"):
            self.sink.flush()

    def close(self) -> None:
        self.sink.close()


class TimedClassifier:
    """A classifier whose ``classify`` calls are timed under its name, its COMPONENTS apart."""

    def __init__(self, classifier: Classifier, timings: Timings) -> None:
        self.classifier = classifier
        self.timings = timings
        self.name = classifier.name
        self.version = classifier.version
        self.surveys = classifier.surveys
        self.lightcurves: dict[str, Any] = {}  # each object's latest light curve seen, for features_bench
        for label, path, method in COMPONENTS.get(classifier.name, ()):
            _time_method(_resolve(classifier, path), method, f"{classifier.name}.{label}", timings)

    def taxonomy(self) -> dict[str, list[str]]:
        return self.classifier.taxonomy()

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        self.lightcurves.update((item.alert.oid, item.lightcurve) for item in batch)
        with self.timings.timing(self.name):
            return self.classifier.classify(batch)


def _resolve(root: Any, path: str) -> Any:
    for attribute in filter(None, path.split(".")):
        root = getattr(root, attribute, None)
    return root


def _time_method(obj: Any, method: str, key: str, timings: Timings) -> None:
    """Replace ``obj.method`` on this instance by a timed, counted call (if it exists)."""
    original = getattr(obj, method, None)
    if original is None:
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        with timings.timing(key):
            result = original(*args, **kwargs)
        timings.calls[key] += 1
        timings.items[key] += len(args[0]) if args and hasattr(args[0], "__len__") else 1
        return result

    try:
        setattr(obj, method, timed)
    except AttributeError:  # a slotted or read-only object: leave it untimed
        return


@dataclass
class BenchResult:
    """One scenario's figures; ``as_dict`` is what ``bench --json`` prints."""

    scenario: str
    n_alerts: int
    n_dead_letters: int
    seconds: float
    latencies_s: np.ndarray
    stage_seconds: dict[str, float]
    classifier_seconds: dict[str, float]
    components: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def alerts_per_s(self) -> float:
        return self.n_alerts / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        per_alert = max(self.n_alerts, 1)
        return {
            "scenario": self.scenario,
            "n_alerts": self.n_alerts,
            "n_dead_letters": self.n_dead_letters,
            "seconds": round(self.seconds, 4),
            "alerts_per_s": round(self.alerts_per_s, 2),
            "p50_latency_s": percentile(self.latencies_s, 50),
            "p95_latency_s": percentile(self.latencies_s, 95),
            "stage_s_per_alert": {k: v / per_alert for k, v in self.stage_seconds.items()},
            "classifier_s_per_alert": {k: v / per_alert for k, v in self.classifier_seconds.items()},
            "classifier_components": self.components,
            **self.notes,
        }


def percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def batch_latencies(timings: Timings) -> np.ndarray:
    """One latency per message: every message of a batch is done when its batch is committed."""
    return np.array([seconds for n, seconds in timings.batch_latencies for _ in range(n)])
