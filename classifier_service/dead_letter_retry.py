"""Stored dead letters through the worker again, once their cause is gone.

A dead letter keeps the input's bytes so that nothing is lost while a cause is mended: a schema
registry that was down, a classifier fixed in a later release, a database that refused a value.
Retrying runs those bytes through the same stages as a live stream (the store's upserts make a
second pass over rows already stored change nothing) and settles each row:

* **recovered**: the input went past the stage that refused it; the row is deleted. Should it
  fail at a later stage now, that stage's dead letter is stored as the worker stores any.
* **failing**: the same stage refused it again; the row stays, with today's reason.
* **not retried**: the row holds only the first megabyte of a larger input (size and digest
  say so); its bytes cannot be run again and the row stays.

Inputs of several alerts (a file of many records) are run once with their original name, so
that the names of their alerts' dead letters (``name#k``) come out as they were stored.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from classifier_service.store import Store
from classifier_service.store import dead_letters as stored
from classifier_service.store.dead_letters import StoredDeadLetter
from classifier_service.stream.base import RawMessage
from classifier_service.surveys.avro import iter_records
from classifier_service.surveys.base import AlertParseError
from classifier_service.worker import Worker

RECOVERED, FAILING, NOT_RETRIED = "recovered", "failing", "not retried"
_RECORD_SUFFIX = re.compile(r"#(\d+)$")  # Batch: the k-th alert of a message of several is "source#k"


@dataclass(frozen=True)
class Outcome:
    letter: StoredDeadLetter
    result: str  # RECOVERED | FAILING | NOT_RETRIED
    reason: str  # why it failed again or was not retried; "" when recovered


class _Messages:
    """The inputs to run again, as a worker's source; nothing to acknowledge."""

    def __init__(self, messages: Sequence[RawMessage], batch_size: int) -> None:
        self.messages, self.batch_size = list(messages), batch_size

    def batches(self) -> Iterator[list[RawMessage]]:
        for start in range(0, len(self.messages), self.batch_size):
            yield self.messages[start:start + self.batch_size]

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """A retry has no offsets: the store's rows are its record."""

    def close(self) -> None:
        """Nothing to release."""


def message_source(letter: StoredDeadLetter) -> str:
    """The name the input had when it was read: an alert of a message of several was stored as
    ``name#k``; the message itself (and so any decode failure) as ``name``."""
    match = _RECORD_SUFFIX.search(letter.source)
    if letter.stage == "decode" or match is None:
        return letter.source
    try:
        n_records = sum(1 for _ in iter_records(letter.payload))
    except AlertParseError:
        return letter.source
    return letter.source[:match.start()] if n_records > int(match.group(1)) and n_records > 1 else letter.source


def retry(letters: Sequence[StoredDeadLetter], store: Store, make_worker, batch_size: int = 500) -> list[Outcome]:
    """Run each complete letter's input through ``make_worker(source)`` (a Worker over ``store``)
    and settle its row; the outcomes are in the order of ``letters``."""
    outcomes: dict[int, Outcome] = {}
    inputs: dict[tuple[str, str], RawMessage] = {}  # one run per input, however many rows name it
    for letter in letters:
        if not letter.complete:
            outcomes[letter.id] = Outcome(letter, NOT_RETRIED, _why_incomplete(letter))
            continue
        name = message_source(letter)
        inputs.setdefault((name, letter.payload_sha256), RawMessage(letter.payload, name))
    refused: dict[tuple[str, str], str] = {}  # (source, stage) -> reason, of this run
    worker: Worker = make_worker(_Messages(list(inputs.values()), batch_size))
    try:
        for messages in worker.source.batches():
            report = worker.complete(messages)
            refused.update(((letter.source, letter.stage), letter.reason) for letter in report.dead_letters)
    finally:
        worker.close()
    for letter in letters:
        if letter.id in outcomes:
            continue
        reason = refused.get((letter.source, letter.stage))
        outcomes[letter.id] = Outcome(letter, RECOVERED, "") if reason is None else Outcome(letter, FAILING, reason)
    settled = [outcomes[letter.id] for letter in letters]
    stored.forget(store.engine, [o.letter.id for o in settled if o.result == RECOVERED])
    stored.rewrite_reasons(store.engine, {o.letter.id: o.reason for o in settled
                                   if o.result == FAILING and o.reason != o.letter.reason})
    return settled


def _why_incomplete(letter: StoredDeadLetter) -> str:
    if letter.payload is None:
        return "no payload was stored with it"
    return (f"only the first {len(letter.payload):,} of its {letter.payload_size:,} bytes were stored "
            f"(SHA-256 of the whole: {letter.payload_sha256})")
