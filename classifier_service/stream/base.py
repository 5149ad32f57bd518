"""What the worker reads from and writes to; Kafka, archives and files implement these."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Unavailable(RuntimeError):
    """A broker, sink or store that cannot be reached: the batch is retried, never committed."""


@dataclass(slots=True)
class RawMessage:
    """One undecoded payload and where it came from (for dead letters and commits)."""

    payload: bytes
    source: str  # "path/to/file.avro" or "topic/partition/offset"
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    # Why the source could not read this message at all (a file it may not open, a tarball
    # broken from here on): the decode stage stores it as a dead letter with this reason.
    unreadable: str | None = None


class Source(Protocol):
    def batches(self) -> Iterator[Sequence[RawMessage]]:
        """Batches of raw messages until the source ends or is stopped."""

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """Mark a batch done: called only after its results are stored and produced."""

    def close(self) -> None: ...


# What a dead letter's text fields may hold, so that its row and its Kafka headers can always
# be written (the dead_letter table's oid column is 32 characters long).
SOURCE_CHARS, REASON_CHARS, OID_CHARS = 1000, 2000, 32


@dataclass(slots=True)
class DeadLetter:
    """An input that could not be processed, kept with its bytes so nothing is lost.

    Text fields are made safe on creation (see :func:`safe_text`): whatever the input held
    (a 1 MB objectId, a NUL), the dead letter itself can always be stored and sent.
    """

    source: str
    stage: str  # decode | parse | cutout | lightcurve | classify | store | produce
    reason: str
    payload: bytes | None = None
    oid: str | None = None
    candid: int | None = None

    def __post_init__(self) -> None:
        self.source = safe_text(self.source, SOURCE_CHARS)
        self.stage = safe_text(self.stage, 32)
        self.reason = safe_text(self.reason, REASON_CHARS)
        self.oid = None if self.oid is None else safe_text(self.oid, OID_CHARS)
        if self.candid is not None and not -2**63 <= self.candid < 2**63:
            self.candid = None


def safe_text(text: object, limit: int) -> str:
    """``text`` on one printable line of at most ``limit`` characters: non-printable characters
    (NUL, CR, LF, U+202E, lone surrogates) escaped as ``\\x00``, the overflow cut to ``…``."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
    # The nearest known solar-system object as the alert's candidate names it (ZTF's ssnamenr and
    # ssdistnr, arcsec; placeholders "null" and -999 included): TNS reporting skips asteroids.
    ssnamenr: str | None = None
    ssdistnr: float | None = None


class Sink(Protocol):
    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        """Queue a batch's results for delivery."""

    def flush(self) -> None:
        """Block until everything published is delivered (before the source commits)."""

    def close(self) -> None: ...
