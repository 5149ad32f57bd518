"""What the worker reads from and writes to; Kafka, archives and files implement these."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(slots=True)
class RawMessage:
    """One undecoded payload and where it came from (for dead letters and commits)."""

    payload: bytes
    source: str  # "path/to/file.avro" or "topic/partition/offset"
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


class Source(Protocol):
    def batches(self) -> Iterator[Sequence[RawMessage]]:
        """Batches of raw messages until the source ends or is stopped."""

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """Mark a batch done: called only after its results are stored and produced."""

    def close(self) -> None: ...


@dataclass(slots=True)
class DeadLetter:
    """An input that could not be processed, kept with its bytes so nothing is lost."""

    source: str
    stage: str  # decode | parse | cutout | lightcurve | classify | store | produce
    reason: str
    payload: bytes | None = None
    oid: str | None = None
    candid: int | None = None


@dataclass(slots=True)
class ClassifiedAlert:
    """What the service publishes for each alert: where, how bright, and every classifier's say."""

    oid: str
    candid: int
    survey: str
    ra: float
    dec: float
    mjd: float
    fid: int
    magpsf: float
    sigmapsf: float
    ndet: int
    firstmjd: float
    lastmjd: float
    classifications: list  # list[classifier_service.classifiers.base.ClassifierOutput]
    # The object's merged light curve, for the classified stream's detections (optional).
    lightcurve: Any = None  # classifier_service.lightcurve.model.LightCurve | None


class Sink(Protocol):
    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        """Queue a batch's results for delivery."""

    def flush(self) -> None:
        """Block until everything published is delivered (before the source commits)."""

    def close(self) -> None: ...
