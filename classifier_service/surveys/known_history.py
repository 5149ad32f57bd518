"""Decoding alerts without parsing, merging or writing again the history the store holds.

A ZTF alert repeats 30 days of history (``prv_candidates``, ``fp_hists``) that, after an
object's first alert, is nearly all stored. Each batch asks the store once which of its
history detections (by candid) and forced-photometry epochs (by pid) it already holds for
their object, and drops those entries from the decoded records, so the parser does not
validate them, the light-curve merge does not deduplicate them against their stored copy
and the store stage does not compare them again. Upper limits are kept: they are cheap,
and one between two alerts is only ever told in the later alert's history.

What comes out is the record the parser would see if the alert carried only its new
history; the store's rows are the same as with the whole history (a stored detection is
not rewritten by ``store.rows.detection_rows`` either). Decoding itself stays fastavro's:
a pure-Python scanner that skips the arrays unbuilt was measured no faster than fastavro
building them (benchmarks.md).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerce_contract.names import ZTF_OID
from classifier_service.surveys.avro import iter_records

MAX_ID = 2**63  # the store's BIGINT ids
HISTORY = "prv_candidates"
FORCED = "fp_hists"


def decode_batch(payloads: Sequence[bytes], store: Any = None,
                 registry: Any = None) -> list[list[dict[str, Any]] | ValueError]:
    """Each payload's records (``iter_records``), less the history ``store`` holds, or the
    AlertParseError that makes it a dead letter."""
    decoded: list[list[dict[str, Any]] | ValueError] = []
    for payload in payloads:
        try:
            decoded.append(list(iter_records(payload, registry)))
        except ValueError as exc:  # AlertParseError
            decoded.append(exc)
    if store is not None:
        drop_stored_history([r for records in decoded if isinstance(records, list) for r in records], store)
    return decoded


def drop_stored_history(records: Sequence[dict[str, Any]], store: Any) -> None:
    """Remove from ZTF records the history detections and forced photometry stored for their object."""
    ztf = [r for r in records if (r.get(HISTORY) or r.get(FORCED)) and isinstance(r.get("objectId"), str)
           and ZTF_OID.fullmatch(r["objectId"])]  # not yet parsed: only a well-formed id goes to the database
    known = store.existing_oids(sorted({r["objectId"] for r in ztf})) if ztf else set()
    ztf = [r for r in ztf if r["objectId"] in known]  # a new object's history is all new
    candids = [p.get("candid") for r in ztf for p in r.get(HISTORY) or () if _is_detection(p)]
    candids = [c for c in candids if type(c) is int and 0 < c < MAX_ID]
    owners = store.owners_of(candids) if candids else {}
    with_forced = sorted({r["objectId"] for r in ztf if r.get(FORCED)})
    forced = store.forced_photometry_keys_of(with_forced) if with_forced else set()
    if not owners and not forced:
        return
    for record in ztf:
        oid = record["objectId"]
        if record.get(HISTORY):
            record[HISTORY] = [p for p in record[HISTORY]
                               if not (_is_detection(p) and owners.get(p.get("candid")) == oid)]
        if record.get(FORCED):
            record[FORCED] = [fp for fp in record[FORCED] if (oid, fp.get("pid")) not in forced]


def _is_detection(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("magpsf") is not None and entry.get("candid") is not None
