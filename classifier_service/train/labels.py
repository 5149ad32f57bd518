"""Real-data labels mapped onto ALeRCE's two taxonomies (declared in ``alerce_contract.taxonomy``).

Labels in the shared data come in four dialects: ALeRCE's own ``classALeRCE`` names, SIMBAD
object types (old and new names, as in Fink's ``cdsxmatch``), TNS spectroscopic classes and
the BTS catalogue's types. Each maps to one of the 15 light-curve classes, or to nothing
when the label says too little (a bare "Supernova" has no subtype; "Galaxy" is no variable).
The stamp classifier's five classes follow from the light-curve class.
"""
from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alerce_contract.taxonomy import LC_CLASSES, LC_GROUP
from classifier_service.surveys.avro import iter_records
from classifier_service.surveys.base import AlertParseError

log = logging.getLogger(__name__)

# SIMBAD object types (old and new spellings) -> light-curve class.
_SIMBAD: dict[str, str] = {
    **dict.fromkeys(("QSO", "QSO_Candidate", "Quasar", "Q?"), "QSO"),
    **dict.fromkeys((
        "AGN", "AGN_Candidate", "Seyfert", "Seyfert1", "Seyfert2", "Seyfert_1", "Seyfert_2",
        "Sy1", "Sy2", "LINER",
    ), "AGN"),
    **dict.fromkeys(("BLLac", "BLLac_Candidate", "Blazar", "Blazar_Candidate", "BLL", "Bla"), "Blazar"),
    **dict.fromkeys((
        "YSO", "YSO_Candidate", "TTau*", "TTauri*", "TTauri*_Candidate", "Orion_V*", "OrionV*",
        "Ae*", "Ae*_Candidate", "HerbigAe*",
    ), "YSO"),
    **dict.fromkeys((
        "CataclyV*", "CV*", "CV*_Candidate", "CataclyV*_Candidate", "Nova", "Nova_Candidate",
        "DwarfNova", "DQHer", "AMHer", "No*",
    ), "CV/Nova"),
    **dict.fromkeys((
        "LPV*", "LongPeriodV*", "LongPeriodV*_Candidate", "LP*_Candidate", "Mira", "Mira_Candidate",
        "SemiRegV*", "semi-regV*",
    ), "LPV"),
    **dict.fromkeys((
        "EB*", "EclBin", "EB*_Candidate", "EclBin_Candidate", "Algol", "EB*Algol", "EB*betLyr",
        "EB*WUMa", "bLyrV*", "WUMaV*", "AlgolV*",
    ), "E"),
    **dict.fromkeys(("delSct", "delSctV*", "dS*", "SXPheV*", "pulsV*SX"), "DSCT"),
    **dict.fromkeys(("RRLyr", "RRLyrae", "RR*", "RRLyr_Candidate", "RRLyrae_Candidate"), "RRL"),
    **dict.fromkeys((
        "Cepheid", "Cepheid_Candidate", "Type2Cep", "ClassicalCep", "deltaCep", "Ce*", "cC*",
        "WV*", "Type2Cep_Candidate",
    ), "CEP"),
    **dict.fromkeys((
        "RSCVn", "RSCVnV*", "RotV*", "RotV*alf2CVn", "alf2CVnV*", "BYDra", "BYDraV*", "PulsV*",
        "gammaDor", "gammaDorV*", "bCepV*", "PulsV*bCep", "ZZCeti", "EllipVar",
    ), "Periodic-Other"),
}

# TNS and BTS types, matched after normalising case, spaces and the "SN " prefix.
_TRANSIENT_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^slsn", "SLSN"),
    (r"^ia", "SNIa"),
    (r"^i(b|c)", "SNIbc"),
    (r"^ii", "SNII"),
    (r"^nova$", "CV/Nova"),
)


def lc_class_from_label(label: str | None) -> str | None:
    """Map any label dialect (ALeRCE, SIMBAD, TNS, BTS, Fink's "(TNS) ..." prefixes) to a class.

    Returns None when the label gives no light-curve class (unknown, bare SN, galaxy, TDE...).
    """
    if label is None:
        return None
    text = str(label).strip()
    match = re.match(r"^\((TNS|SIMBAD)\)\s*(.*)$", text)
    if match:
        text = match.group(2)
    if text in LC_CLASSES:
        return text
    if text in _SIMBAD:
        return _SIMBAD[text]
    compact = re.sub(r"[\s_-]", "", text.lower())
    if compact.startswith("sn"):
        compact = compact[2:]
    if not compact or compact in {"unknown", "other"}:
        return None
    for pattern, lc_class in _TRANSIENT_PATTERNS:
        if re.match(pattern, compact):
            return lc_class
    return None


def stamp_class_from_lc_class(lc_class: str) -> str:
    """The stamp classifier's class for a light-curve class (ALeRCE's early taxonomy)."""
    group = LC_GROUP[lc_class]
    if group == "Transient":
        return "SN"
    if lc_class in ("QSO", "AGN", "Blazar"):
        return "AGN"
    return "VS"


def label_alert_record(record: dict) -> str | None:
    """The light-curve class of a Fink-enriched alert record, TNS first, then SIMBAD."""
    for key in ("tnsclass", "tns", "cdsxmatch"):
        lc_class = lc_class_from_label(record.get(key))
        if lc_class is not None:
            return lc_class
    return None


def iter_alert_records(data_dir: Path) -> Iterator[dict[str, Any]]:
    """Every alert record of the shared Avro and Parquet files; unreadable files are logged."""
    import pyarrow.parquet as pq

    for path in sorted(glob.glob(str(data_dir / "ztf_alerts" / "**" / "*.avro"), recursive=True)):
        try:
            yield from iter_records(Path(path).read_bytes())
        except AlertParseError as exc:
            log.info("skipping the rest of %s: %s", path, exc)
    for path in sorted(glob.glob(str(data_dir / "ztf_alerts_parquet" / "**" / "*.parquet"), recursive=True)):
        table = pq.read_table(path)
        if "candidate" in table.column_names:
            yield from table.to_pylist()


def iter_labelled_alert_records(data_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(light-curve class, raw record) for every real alert with a usable label, unique by candid."""
    seen: set[int] = set()
    for record in iter_alert_records(data_dir):
        candid = (record.get("candidate") or {}).get("candid")
        if candid is None or candid in seen:
            continue
        seen.add(candid)
        lc_class = label_alert_record(record)
        if lc_class is not None:
            yield lc_class, record
