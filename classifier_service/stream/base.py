"""What the worker reads from and writes to; Kafka, archives and files implement these."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


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
