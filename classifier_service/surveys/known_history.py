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

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from classifier_service.surveys.avro import iter_records, single_record_prefix
from classifier_service.surveys.avro_reader import Known
from classifier_service.surveys.history_layout import HistoryLayout, StoredEntry, history_identity


@dataclass
class StoredHistory:
    """What the store holds of a batch's objects, read once per object and batch."""

    detections: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)  # oldest first
    non_detections: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    forced_photometry: set[tuple[str, int]] = field(default_factory=set)  # (oid, pid)
    read: set[str] = field(default_factory=set)  # the objects asked for, stored or not
    _epochs: dict[str, set[int]] = field(default_factory=dict)  # forced_photometry by oid
    _known: dict[str, Known] = field(default_factory=dict)  # oid -> what known() answered

    def read_from(self, store: Any, oids: Iterable[str]) -> None:
        """Read the objects not read yet: three queries, whatever their number."""
        missing = sorted(set(oids) - self.read)
        if not missing:
            return
        self.detections.update(store.detections_of(missing))
        self.non_detections.update(store.non_detections_of(missing))
        epochs = store.forced_photometry_keys_of(missing)
        self.forced_photometry |= epochs
        for oid, pid in epochs:
            self._epochs.setdefault(oid, set()).add(pid)
        self.read.update(missing)

    def known(self, oid: str, layout: HistoryLayout) -> Known | None:
        """The keys of ``oid``'s history entries the store holds, by the array of ``layout`` they
        come in (candids, pids); None for an object it does not hold. Made once per object."""
        if oid not in self.detections:
            return None
        known = self._known.get(oid)
        if known is None:
            known = self._known[oid] = {
                layout.detections: {row["candid"] for row in self.detections[oid]},
                layout.forced: self._epochs.get(oid, set())}
        return known


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
    decoded = [_records(payload, registry, stored.known(*identity) if identity is not None else None)
               for payload, identity in zip(payloads, identities)]
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
    for record in records:
        identity = history_identity(record)
        known = stored.known(*identity) if identity is not None else None
        if known is None:
            continue  # a new object's history is all new
        layout = identity[1]
        for array, how in ((layout.detections, layout.detection), (layout.forced, layout.epoch)):
            entries = record.get(array)
            if type(entries) is list and entries:
                record[array] = [entry for entry in entries if not _is_stored(entry, how, known[array])]


# Records are not parsed yet: an entry of another shape (a hostile writer schema) is kept for
# the parser to refuse. The same test as the generated reader's skip.
def _is_stored(entry: Any, how: StoredEntry, known: Collection[int]) -> bool:
    return (type(entry) is dict and type(key := entry.get(how.key)) is int and key in known
            and (how.present is None or entry.get(how.present) is not None))
