"""Real-data labels mapped onto ALeRCE's two taxonomies (declared in ``alerce_contract.taxonomy``).

Labels in the shared data come in five dialects: ALeRCE's own ``classALeRCE`` names, SIMBAD
object types (old and new names, as in Fink's ``cdsxmatch``), TNS spectroscopic classes, the
BTS catalogue's types and GCVS variable-star types. Each maps to one of the 15 light-curve
classes, or to nothing when the label says too little (a bare "Supernova" has no subtype;
"Galaxy" is no variable). An alert whose record carries no usable label can still be
labelled by the catalogues (:class:`CatalogueLabels`): BTS and ALeRCE's labelled set by
object id, GCVS by position. The stamp classifier's five classes follow from the
light-curve class.
"""
from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


# GCVS variability types (Samus et al. 2017, GCVS "Variability types") -> light-curve class, by
# the type's leading letters; ':' (uncertain) and a second type after '|' or '+' are ignored.
_GCVS_PREFIXES: tuple[tuple[str, str | None], ...] = (
    ("ELL", "Periodic-Other"), ("E", "E"),
    ("RR", "RRL"), ("RV", None),  # RV Tauri stars are no ALeRCE class
    ("DCEP", "CEP"), ("CEP", "CEP"), ("CW", "CEP"),
    ("DSCT", "DSCT"), ("SXPHE", "DSCT"),
    ("UG", "CV/Nova"), ("NL", "CV/Nova"), ("N", "CV/Nova"), ("XM", "CV/Nova"), ("AM", "CV/Nova"),
    ("M", "LPV"), ("SR", "LPV"), ("L", "LPV"),
    ("IN", "YSO"), ("IS", "YSO"), ("TTS", "YSO"), ("UXOR", "YSO"), ("FU", "YSO"),
    ("BY", "Periodic-Other"), ("RS", "Periodic-Other"), ("ROT", "Periodic-Other"),
    ("ACV", "Periodic-Other"), ("GDOR", "Periodic-Other"), ("BCEP", "Periodic-Other"),
    ("ZZ", "Periodic-Other"),
)


def gcvs_class(vartype: str | None) -> str | None:
    """The light-curve class of a GCVS variability type (None for types ALeRCE has no class for)."""
    if not vartype:
        return None
    text = re.split(r"[|+/(]", str(vartype).strip().upper().replace(":", ""))[0]
    for prefix, lc_class in _GCVS_PREFIXES:
        if text.startswith(prefix):
            return lc_class
    return None


GCVS = Path("labels") / "gcvs_fink-science" / "gcvs.parquet"
BTS_CATALOGUE = Path("labels") / "bts_catalog_annayqho" / "bts.csv"
ALERCE_LABELS = Path("lightcurves") / "alerce-lc_classifier" / "2000_labels.csv"
MATCH_RADIUS_ARCSEC = 1.5  # ZTF's astrometry is good to ~0.1"; 1.5" keeps chance matches rare


@dataclass(slots=True)
class CatalogueLabels:
    """Labels from catalogues: by object id (BTS, ALeRCE's labelled set) and by position (GCVS)."""

    by_oid: dict[str, str] = field(default_factory=dict)
    positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # unit vectors of GCVS stars
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    @classmethod
    def load(cls, data_dir: Path) -> CatalogueLabels:
        """Whatever catalogues ``data_dir`` holds; a missing one is logged and left out."""
        import pandas as pd

        out = cls()
        for path, oid_column, label_column in ((data_dir / BTS_CATALOGUE, "ZTFID", "type"),
                                               (data_dir / ALERCE_LABELS, "objectId", "classALeRCE")):
            if not path.exists():
                log.warning("label catalogue %s missing", path)
                continue
            table = pd.read_csv(path)
            for oid, label in zip(table[oid_column], table[label_column]):
                lc_class = lc_class_from_label(label)
                if lc_class is not None:
                    out.by_oid.setdefault(str(oid), lc_class)
        if (data_dir / GCVS).exists():
            stars = pd.read_parquet(data_dir / GCVS)
            classes = np.array([gcvs_class(t) for t in stars["VarType"]], dtype=object)
            known = classes != None  # noqa: E711 (elementwise)
            out.positions = _unit_vectors(stars["ra"].to_numpy()[known], stars["dec"].to_numpy()[known])
            out.classes = classes[known]
        else:
            log.warning("label catalogue %s missing", data_dir / GCVS)
        return out

    def label(self, oid: str, ra: float | None, dec: float | None) -> str | None:
        """The catalogue class of an object: its id first, then the nearest GCVS star within the radius."""
        if oid in self.by_oid:
            return self.by_oid[oid]
        if ra is None or dec is None or not len(self.classes):
            return None
        chord = np.linalg.norm(self.positions - _unit_vectors(np.array([ra]), np.array([dec])), axis=1)
        nearest = int(np.argmin(chord))
        limit = 2 * np.sin(np.radians(MATCH_RADIUS_ARCSEC / 3600) / 2)
        return str(self.classes[nearest]) if chord[nearest] <= limit else None


def _unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(np.asarray(ra, dtype=float)), np.radians(np.asarray(dec, dtype=float))
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


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
    """Every alert record of the shared Avro and Parquet files; unreadable files are logged.

    Parquet records come with their rounded history ids keyed by epoch
    (:func:`with_history_keyed_by_epoch`), so every reader of real alerts (labels, calibration,
    the adversary, the stamp set) parses the same records.
    """
    import pyarrow.parquet as pq

    for path in sorted(glob.glob(str(data_dir / "ztf_alerts" / "**" / "*.avro"), recursive=True)):
        try:
            yield from iter_records(Path(path).read_bytes())
        except AlertParseError as exc:
            log.info("skipping the rest of %s: %s", path, exc)
    for path in sorted(glob.glob(str(data_dir / "ztf_alerts_parquet" / "**" / "*.parquet"), recursive=True)):
        table = pq.read_table(path)
        if "candidate" in table.column_names:
            yield from map(with_history_keyed_by_epoch, table.to_pylist())


def with_history_keyed_by_epoch(record: dict[str, Any]) -> dict[str, Any]:
    """The record with each earlier detection's non-integer candid replaced by a key of its epoch and band.

    Fink's Parquet files store ``prv_candidates.candid`` as a double (Parquet's nullable int64
    read back as float): a 19-digit id rounded to 53 bits is no longer the detection's id, and
    the ZTF adapter rightly rejects it. A light curve only needs to tell its detections apart,
    which their epoch (jd to 1e-6 d, 0.09 s) and band do; the key, about 2.5e13, cannot be
    mistaken for a real candid (about 1e18). The alert's own candid, an integer, is kept.
    """
    history = record.get("prv_candidates")
    if not history or not any(_rounded_id(p) for p in history):
        return record
    return {**record, "prv_candidates": [dict(p, candid=epoch_key(p["jd"], p["fid"])) if _rounded_id(p) else p
                                         for p in history]}


def _rounded_id(detection: dict[str, Any]) -> bool:
    """A float candid on a row with an epoch and band to key it by (the adapter judges the rest)."""
    return isinstance(detection.get("candid"), float) and detection.get("jd") is not None \
        and detection.get("fid") is not None


def epoch_key(jd: float, fid: int) -> int:
    """A detection's stand-in id: its epoch in microdays and its band (unique within an object)."""
    return int(round(float(jd) * 1e6)) * 10 + int(fid)


def iter_labelled_alert_records(data_dir: Path, catalogues: CatalogueLabels | None = None,
                                ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(light-curve class, raw record) for every real alert with a usable label, unique by candid.

    The record's own label (TNS, SIMBAD) comes first; ``catalogues`` label the rest.
    """
    seen: set[int] = set()
    for record in iter_alert_records(data_dir):
        candid = (record.get("candidate") or {}).get("candid")
        if candid is None or candid in seen:
            continue
        seen.add(candid)
        lc_class = label_alert_record(record)
        if lc_class is None and catalogues is not None:
            candidate = record.get("candidate") or {}
            lc_class = catalogues.label(str(record.get("objectId")), candidate.get("ra"), candidate.get("dec"))
        if lc_class is not None:
            yield lc_class, record
