"""Decoding alerts without parsing, merging or writing again the history the store holds.

A ZTF alert repeats 30 days of history (``prv_candidates``, ``fp_hists``) that, after an
object's first alert, is nearly all stored. The worker reads each batch's objects from the
store once (:class:`StoredHistory`: their detections, upper limits and forced-photometry
epochs, which the light-curve merge needs anyway) right after decoding, and the history
detections (by candid) and forced-photometry epochs (by pid) stored for their object are
dropped from the decoded records, so the parser does not validate them, the light-curve
merge does not deduplicate them against their stored copy and the store stage does not
compare them again. An object the store has never seen costs no query beyond that read.
Upper limits are kept: they are cheap, and one between two alerts is only ever told in the
later alert's history.

What comes out is the record the parser would see if the alert carried only its new
history; the store's rows are the same as with the whole history (a stored detection is
not rewritten by ``store.rows.detection_rows`` either). Decoding still reads every entry
(:mod:`classifier_service.surveys.avro_reader`): an entry is known only once its candid or
pid is read, and a fastavro reader schema keeping only the fields used costs more than the
full read (0.68 against 0.43 CPU ms per alert: fastavro resolves such a schema field by field,
entry by entry).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerce_contract.names import ZTF_OID
from classifier_service.surveys.avro import iter_records

HISTORY = "prv_candidates"
FORCED = "fp_hists"


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
    ``stored`` for the stages after."""
    decoded: list[list[dict[str, Any]] | ValueError] = []
    for payload in payloads:
        try:
            decoded.append(list(iter_records(payload, registry)))
        except ValueError as exc:  # AlertParseError
            decoded.append(exc)
    if store is not None:
        records = [r for records in decoded if isinstance(records, list) for r in records if isinstance(r, dict)]
        stored = stored if stored is not None else StoredHistory()
        stored.read_from(store, ztf_oids(records))
        drop_stored_history(records, stored)
    return decoded


def ztf_oids(records: Iterable[dict[str, Any]]) -> set[str]:
    """The object ids of ZTF records; not yet parsed, so only well-formed ids reach the database."""
    return {oid for r in records if isinstance(oid := r.get("objectId"), str) and "candidate" in r
            and ZTF_OID.fullmatch(oid)}


def drop_stored_history(records: Sequence[dict[str, Any]], stored: StoredHistory) -> None:
    """Remove from ZTF records the history detections and forced photometry stored for their object."""
    candids: dict[str, set[int]] = {}
    for record in records:
        oid = record.get("objectId")
        if type(oid) is not str or oid not in stored.detections or not (record.get(HISTORY) or record.get(FORCED)):
            continue  # a new object's history is all new
        known = candids.get(oid)
        if known is None:
            known = candids[oid] = stored.candids(oid)
        if type(record.get(HISTORY)) is list:
            record[HISTORY] = [p for p in record[HISTORY] if not (_is_detection(p) and p["candid"] in known)]
        if type(record.get(FORCED)) is list:
            record[FORCED] = [fp for fp in record[FORCED] if not _is_stored_epoch(fp, oid, stored.forced_photometry)]


# Records are not parsed yet: an entry of another shape (a hostile writer schema) is kept for
# the parser to refuse.
def _is_detection(entry: Any) -> bool:
    return type(entry) is dict and entry.get("magpsf") is not None and type(entry.get("candid")) is int


def _is_stored_epoch(entry: Any, oid: str, stored: set[tuple[str, int]]) -> bool:
    return type(entry) is dict and type(entry.get("pid")) is int and (oid, entry["pid"]) in stored
