"""The stored dead letters, read back: what an operator looks at, exports and retries.

The worker writes them (``Store.write``, one row per input and stage); this module only reads
them, rewrites a reason and forgets the ones a retry got through. A row keeps the first
``rows.DEAD_LETTER_PAYLOAD_BYTES`` of its payload with the whole payload's size and SHA-256, so
whether the stored bytes are the whole input is known, never guessed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select, update

from classifier_service.store import tables


@dataclass(frozen=True)
class StoredDeadLetter:
    """One row of the dead_letter table."""

    id: int
    created: datetime
    source: str
    stage: str
    reason: str
    oid: str | None
    candid: int | None
    payload_size: int | None
    payload_sha256: str | None
    payload: bytes | None = None  # read only when asked for

    @property
    def complete(self) -> bool:
        """Whether the stored payload is the whole input: its size and digest are the input's."""
        return (self.payload is not None and len(self.payload) == self.payload_size
                and hashlib.sha256(self.payload).hexdigest() == self.payload_sha256)


@dataclass(frozen=True)
class StageCount:
    stage: str
    letters: int
    first: datetime
    last: datetime


_COLUMNS = ("id", "created", "source", "stage", "reason", "oid", "candid", "payload_size", "payload_sha256")


def read(engine: Engine, *, stages: Collection[str] = (), ids: Collection[int] = (), limit: int | None = None,
         with_payload: bool = False, newest_first: bool = False) -> list[StoredDeadLetter]:
    """The dead letters of ``stages`` (all when empty) and ``ids`` (all when empty), by id."""
    table = tables.dead_letter
    columns = [table.c[name] for name in _COLUMNS] + ([table.c.payload] if with_payload else [])
    query = select(*columns).order_by(table.c.id.desc() if newest_first else table.c.id)
    if stages:
        query = query.where(table.c.stage.in_(sorted(stages)))
    if ids:
        query = query.where(table.c.id.in_(sorted(ids)))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [StoredDeadLetter(**row._mapping) for row in conn.execute(query)]


def by_stage(engine: Engine) -> list[StageCount]:
    """How many dead letters each stage holds, and when the first and the last were stored."""
    table = tables.dead_letter
    query = (select(table.c.stage, func.count(), func.min(table.c.created), func.max(table.c.created))
             .group_by(table.c.stage).order_by(func.count().desc(), table.c.stage))
    with engine.connect() as conn:
        return [StageCount(*row) for row in conn.execute(query)]


def forget(engine: Engine, ids: Sequence[int]) -> None:
    """Delete the rows ``ids``: inputs that went through on a retry."""
    if ids:
        with engine.begin() as conn:
            conn.execute(delete(tables.dead_letter).where(tables.dead_letter.c.id.in_(sorted(ids))))


def rewrite_reasons(engine: Engine, reasons: dict[int, str]) -> None:
    """Replace the reasons of rows whose input failed again at the same stage, for today's reason."""
    if reasons:
        table = tables.dead_letter
        with engine.begin() as conn:
            for letter_id, reason in sorted(reasons.items()):
                conn.execute(update(table).where(table.c.id == letter_id).values(reason=reason))
