"""Decoding alerts without parsing, merging or writing again the history the store holds.

A ZTF alert repeats 30 days of history (``prv_candidates``, ``fp_hists``), a Rubin alert 12
months (``prvDiaSources``, ``prvDiaForcedSources``); after an object's first alert, nearly all
of it is stored. The worker reads each batch's objects from the store once
(:class:`StoredHistory`: their detections, upper limits and forced-photometry epochs, which
the light-curve merge needs anyway), before the records are read whole: who each alert is
about comes from the fields before its history, read alone. The history detections (by
candid) and forced-photometry epochs (by pid) stored for the object are then skipped by the
generated reader, which moves past them without building them
(:mod:`classifier_service.surveys.avro_reader`), so they are neither built nor validated by
the parser, deduplicated by the light-curve merge against their stored copy, or compared
again by the store stage. An object the store has never seen costs no query beyond that read.
Upper limits are kept: they are cheap, and one between two alerts is only ever told in the
later alert's history.

What comes out is the record the parser would see if the alert carried only its new
history; the store's rows are the same as with the whole history (a stored detection is
not rewritten by ``store.rows.detection_rows`` either). Records read otherwise (fastavro
reads a schema's first record; compressed and multi-record files are read whole) have the
same entries dropped after reading.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from classifier_service.surveys.avro import iter_records, single_record_prefix
from classifier_service.surveys.avro_reader import Known
from classifier_service.surveys.history_layout import StoredEntry, history_identity


@dataclass
class StoredHistory:
    """What the store holds of a batch's objects, read once per object and batch."""

    detections: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)  # oldest first
    non_detections: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    forced_photometry: set[tuple[str, int]] = field(default_factory=set)  # (oid, pid)
    read: set[str] = field(default_factory=set)  # the objects asked for, stored or not

    def read_from(self, store: Any, oids: Iterable[str]) -> None:
        """Read the objects not read yet: three queries, whatever their number."""
        missing = sorted(set(oids) - self.read)
        if not missing:
            return
        self.detections.update(store.detections_of(missing))
        self.non_detections.update(store.non_detections_of(missing))
        self.forced_photometry |= store.forced_photometry_keys_of(missing)
        self.read.update(missing)

    def candids(self, oid: str) -> set[int]:
        """The candids stored for ``oid``."""
        return {row["candid"] for row in self.detections.get(oid, ())}


def decode_batch(payloads: Sequence[bytes], store: Any = None, registry: Any = None,
                 stored: StoredHistory | None = None) -> list[list[dict[str, Any]] | ValueError]:
    """Each payload's records (``iter_records``), less the history ``store`` holds, or the
    AlertParseError that makes it a dead letter. What was read of the store is kept in
    ``stored`` for the stages after.

    Three steps: who each alert is about, from the fields before its history alone
    (``single_record_prefix``); one read of the store for all of them; then each record read
    with the entries stored for its object skipped unbuilt. A payload whose prefix cannot be read
    alone (fastavro's first record of a schema, a compressed or multi-record file) is read whole,
    and its stored entries are dropped after (``drop_stored_history``)."""
    if store is None:
        return [_records(payload, registry) for payload in payloads]
    stored = stored if stored is not None else StoredHistory()
    prefixes = [single_record_prefix(payload, registry) for payload in payloads]
    identities = [history_identity(prefix) if prefix is not None else None for prefix in prefixes]
    stored.read_from(store, {identity[0] for identity in identities if identity is not None})
    epochs: dict[str, set[int]] = {}
    for oid, pid in stored.forced_photometry:
        epochs.setdefault(oid, set()).add(pid)
    decoded = []
    for payload, identity in zip(payloads, identities):
        known = None
        if identity is not None and identity[0] in stored.detections:
            oid, layout = identity
            known = {layout.detections: stored.candids(oid), layout.forced: epochs.get(oid, set())}
        decoded.append(_records(payload, registry, known))
    records = [r for records in decoded if isinstance(records, list) for r in records if isinstance(r, dict)]
    stored.read_from(store, {identity[0] for r in records if (identity := history_identity(r))})
    drop_stored_history(records, stored)
    return decoded


def _records(payload: bytes, registry: Any, known: Known | None = None) -> list[dict[str, Any]] | ValueError:
    try:
        return list(iter_records(payload, registry, known))
    except ValueError as exc:  # AlertParseError
        return exc


def drop_stored_history(records: Sequence[dict[str, Any]], stored: StoredHistory) -> None:
    """Remove from records the history detections and forced photometry stored for their object."""
    candids: dict[str, set[int]] = {}
    for record in records:
        identity = history_identity(record)
        if identity is None or identity[0] not in stored.detections:
            continue  # a new object's history is all new
        oid, layout = identity
        history, forced = record.get(layout.detections), record.get(layout.forced)
        if type(history) is list and history:
            known = candids.get(oid)
            if known is None:
                known = candids[oid] = stored.candids(oid)
            record[layout.detections] = [entry for entry in history if not _is_stored(entry, layout.detection, known)]
        if type(forced) is list and forced:
            record[layout.forced] = [entry for entry in forced
                                     if not _is_stored_epoch(entry, layout.epoch, oid, stored.forced_photometry)]


# Records are not parsed yet: an entry of another shape (a hostile writer schema) is kept for
# the parser to refuse. The same tests as the generated reader's skip.
def _is_stored(entry: Any, how: StoredEntry, known: set[int]) -> bool:
    return (type(entry) is dict and type(key := entry.get(how.key)) is int and key in known
            and (how.present is None or entry.get(how.present) is not None))


def _is_stored_epoch(entry: Any, how: StoredEntry, oid: str, stored: set[tuple[str, int]]) -> bool:
    return type(entry) is dict and type(epoch := entry.get(how.key)) is int and (oid, epoch) in stored
