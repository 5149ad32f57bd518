"""Archive source: alerts from .avro files, folders of them, and tarballs.

Each alert becomes one RawMessage holding a single-alert container, exactly what a ZTF
Kafka message holds, so the worker cannot tell an archive replay from the live stream.
A file that turns unreadable yields the alerts before the damage, then one message with
the whole file's bytes that the decode stage turns into a dead letter with the reason. A
file that cannot be opened, and the rest of a tarball broken part way, are dead letters too
(``RawMessage.unreadable``, no payload: the file is where it was). Sources are absolute
paths, so that two files of one name in two folders are two dead letters, not one.
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
ARCHIVE_KINDS = ".avro files or tarballs (" + ", ".join(TARBALL_SUFFIXES) + ")"


def is_tarball(path: Path) -> bool:
    return path.name.endswith(TARBALL_SUFFIXES)


def archive_files(paths: Iterable[str | Path]) -> list[Path]:
    """The .avro files and tarballs under ``paths`` (folders recursively), in a stable order, as
    absolute paths; a file named on its own is taken whatever its name (decoding says what is
    wrong with it). The other files of a folder are named in a warning; FileNotFoundError if
    paths are given and nothing in them is left to read."""
    paths = [Path(path) for path in paths]
    found: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file():
                    (found if p.suffix == ".avro" or is_tarball(p) else skipped).append(p.absolute())
        elif path.is_file():
            found.append(path.absolute())
        else:
            raise FileNotFoundError(f"no such archive file or folder: {path}")
    others = f"{len(skipped)} other file(s), not {ARCHIVE_KINDS}: {', '.join(p.name for p in skipped[:5])}" + (
        ", ..." if len(skipped) > 5 else "")
    if paths and not found:
        raise FileNotFoundError(f"no alert archives ({ARCHIVE_KINDS}) in {', '.join(map(str, paths))}"
                                + (f"; {others}" if skipped else ""))
    if skipped:
        log.warning("skipped %s", others)
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
                    yield RawMessage(payload=b"", source=str(path), unreadable=f"cannot read the file: {exc}")
                    continue
                yield from messages_of(payload, str(path))

    def _tarball_messages(self, path: Path) -> Iterator[RawMessage]:
        read = 0
        try:
            with tarfile.open(path) as tar:
                for member in tar:
                    if not (member.isfile() and member.name.endswith(".avro")):
                        continue
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield from messages_of(handle.read(), f"{path}!{member.name}")
                        read += 1
        except (tarfile.TarError, OSError, EOFError) as exc:
            log.error("tarball %s is unreadable from here on: %s", path, exc)
            yield RawMessage(payload=b"", source=f"{path}!rest", unreadable=(
                f"tarball unreadable after {read} .avro member(s): {type(exc).__name__}: {exc}"))

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
