"""Archive source: alerts from .avro files, folders of them, and tarballs.

Each alert becomes one RawMessage holding a single-alert container, exactly what a ZTF
Kafka message holds, so the worker cannot tell an archive replay from the live stream.
A file that turns unreadable yields the alerts before the damage, then one message with
the whole file's bytes that the decode stage turns into a dead letter with the reason.
"""
from __future__ import annotations

import logging
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from classifier_service.stream.base import RawMessage
from classifier_service.surveys.avro import split_records
from classifier_service.surveys.base import AlertParseError

log = logging.getLogger(__name__)

TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_tarball(path: Path) -> bool:
    return path.name.endswith(TARBALL_SUFFIXES)


def archive_files(paths: Iterable[str | Path]) -> list[Path]:
    """The .avro files and tarballs under ``paths`` (folders recursively), in a stable order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*")
                                if p.is_file() and (p.suffix == ".avro" or is_tarball(p))))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such archive file or folder: {path}")
    return found


def messages_of(payload: bytes, source: str) -> Iterator[RawMessage]:
    """One message per alert of a container; the damaged rest as one last message."""
    count = 0
    try:
        for single in split_records(payload):
            yield RawMessage(payload=single, source=f"{source}#{count}")
            count += 1
    except AlertParseError as exc:
        log.warning("%s is damaged after %d alert(s): %s", source, count, exc)
        yield RawMessage(payload=payload, source=f"{source}#rest")


class ArchiveSource:
    """Batches of single-alert messages from archive files; commit just counts progress."""

    def __init__(self, paths: Sequence[str | Path], batch_size: int = 500) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.files = archive_files(paths)
        self.batch_size = batch_size
        self.committed = 0

    def messages(self) -> Iterator[RawMessage]:
        for path in self.files:
            if is_tarball(path):
                yield from self._tarball_messages(path)
            else:
                try:
                    payload = path.read_bytes()
                except OSError as exc:
                    log.error("cannot read %s: %s", path, exc)
                    continue
                yield from messages_of(payload, str(path))

    def _tarball_messages(self, path: Path) -> Iterator[RawMessage]:
        try:
            with tarfile.open(path) as tar:
                for member in tar:
                    if not (member.isfile() and member.name.endswith(".avro")):
                        continue
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield from messages_of(handle.read(), f"{path}!{member.name}")
        except (tarfile.TarError, OSError, EOFError) as exc:
            log.error("tarball %s is unreadable from here on: %s", path, exc)

    def batches(self) -> Iterator[list[RawMessage]]:
        batch: list[RawMessage] = []
        for message in self.messages():
            batch.append(message)
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def commit(self, batch: Sequence[RawMessage]) -> None:
        self.committed += len(batch)

    def close(self) -> None:
        """Nothing to release: files are read whole and closed at once."""
