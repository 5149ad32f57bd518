"""Progress of a long command: a tqdm bar on a terminal, a log line every so often otherwise."""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

EVERY_S = 30.0
log = logging.getLogger(__name__)
T = TypeVar("T")


class Progress:
    """Counts work done; draws a bar when ``stream`` is a terminal, else logs every ``every_s``."""

    def __init__(self, what: str, unit: str, total: int | None = None, *, every_s: float = EVERY_S,
                 stream: TextIO | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        self.what, self.unit, self.total, self.every_s = what, unit, total, every_s
        self.bar = tqdm(total=total, unit=unit, desc=what, file=stream) if stream.isatty() else None
        self.done = 0
        self.started = self.last_line = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last_line >= self.every_s:
            self.last_line = now
            self._log(now)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _log(self, now: float) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        rate = self.done / max(now - self.started, 1e-9)
        log.info("%s: %d%s %s (%.1f %s/s)", self.what, self.done, of, self.unit, rate, self.unit)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def progress(items: Iterable[T], what: str, unit: str, total: int | None = None) -> Iterator[T]:
    """``items``, counted by a Progress as they are taken."""
    with Progress(what, unit, total) as counter:
        for item in items:
            yield item
            counter.update()
