"""Timing wrappers around the worker's collaborators, and what a benchmark run reports.

The worker is benchmarked unchanged: its source, sinks and classifiers are wrapped so that
waiting for input, committing, delivery and each classifier are timed where they happen.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifier_service.classifiers.base import Classification, Classifier, ClassifierInput
from classifier_service.stream.base import ClassifiedAlert, DeadLetter, RawMessage, Sink, Source


@dataclass
class Timings:
    """Seconds spent per activity, and each batch's wall time from arrival to commit."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    batch_latencies: list[tuple[int, float]] = field(default_factory=list)  # (n messages, s)

    def add(self, activity: str, start: float) -> None:
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
            start = time.perf_counter()
            batch = next(batches, None)
            self.timings.add("consume", start)
            if batch is None:
                return
            self._arrived = time.perf_counter()
            yield batch

    def commit(self, batch: Sequence[RawMessage]) -> None:
        start = time.perf_counter()
        self.source.commit(batch)
        self.timings.add("commit", start)
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
        start = time.perf_counter()
        self.sink.flush()
        self.timings.add("flush", start)

    def close(self) -> None:
        self.sink.close()


class TimedClassifier:
    """A classifier whose ``classify`` calls are timed under its name."""

    def __init__(self, classifier: Classifier, timings: Timings) -> None:
        self.classifier = classifier
        self.timings = timings
        self.name = classifier.name
        self.version = classifier.version

    def taxonomy(self) -> dict[str, list[str]]:
        return self.classifier.taxonomy()

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        start = time.perf_counter()
        try:
            return self.classifier.classify(batch)
        finally:
            self.timings.add(self.name, start)


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
            **self.notes,
        }


def percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def batch_latencies(timings: Timings) -> np.ndarray:
    """One latency per message: every message of a batch is done when its batch is committed."""
    return np.array([seconds for n, seconds in timings.batch_latencies for _ in range(n)])
