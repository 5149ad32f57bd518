"""Where each survey's packet repeats an object's history, and the fields the store knows it by.

Shared by the decoder, which skips the entries the store holds without building them
(:mod:`classifier_service.surveys.avro_reader`), and by :mod:`classifier_service.surveys.known_history`,
which drops them from records read otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerce_contract.names import ZTF_OID


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """How an entry of a history array is known to be stored: its ``key`` field is in the
    store's set, and, where upper limits share the array, its ``present`` field is not null."""

    key: str
    present: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryLayout:
    """A survey's two history arrays: earlier detections (keyed as the store's candid) and
    forced photometry (keyed as its pid)."""

    detections: str
    detection: StoredEntry
    forced: str
    epoch: StoredEntry


ZTF = HistoryLayout("prv_candidates", StoredEntry("candid", present="magpsf"), "fp_hists", StoredEntry("pid"))
# Rubin repeats 12 months: a year of diaSources and forced sources in every alert.
RUBIN = HistoryLayout("prvDiaSources", StoredEntry("diaSourceId"), "prvDiaForcedSources", StoredEntry("visit"))
# Every history array a packet may carry, by field name: what the generated reader may skip.
SKIPPABLE: dict[str, StoredEntry] = {layout.detections: layout.detection for layout in (ZTF, RUBIN)} | {
    layout.forced: layout.epoch for layout in (ZTF, RUBIN)}


# What history_identity reads: a top-level field (None), or one field of a top-level record. The
# generated reader's prefix reads the first of them a packet has, and nothing more.
IDENTITY_FIELDS: dict[str, str | None] = {"objectId": None, "diaSource": "diaObjectId"}


def history_identity(record: dict[str, Any]) -> tuple[str, HistoryLayout] | None:
    """The object id a record's history is stored under, and where the record keeps that history;
    None for a record whose object cannot be told before parsing (its history is then all kept).
    Not parsed yet: only ids of the survey's form reach the database. Reads IDENTITY_FIELDS only,
    so it answers alike for a whole record and for the generated reader's prefix of one."""
    oid = record.get("objectId")
    if isinstance(oid, str) and ZTF_OID.fullmatch(oid):
        return oid, ZTF
    source = record.get("diaSource")  # the parser's oid is the diaSource's diaObjectId, when it has one
    if isinstance(source, dict) and type(dia_object := source.get("diaObjectId")) is int and dia_object > 0:
        return str(dia_object), RUBIN
    return None
