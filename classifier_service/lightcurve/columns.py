"""Detections and non-detections as columns of arrays, and the merge of old and new ones.

An object's light curve is assembled from what the store holds and what new alerts carry;
both become the same columns here, so merging is a concatenation and a de-duplication
(detections by candid, non-detections by band and epoch) with the newest copy kept.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from classifier_service.alert import Detection, NonDetection
from classifier_service.lightcurve.correction import correct_magnitudes

Columns = dict[str, np.ndarray]

DETECTION_DTYPES: dict[str, Any] = {
    "candid": np.int64, "mjd": float, "fid": np.int8, "ra": float, "dec": float,
    "magpsf": float, "sigmapsf": float, "isdiffpos": np.int8, "magpsf_corr": float,
    "sigmapsf_corr": float, "sigmapsf_corr_ext": float, "corrected": bool, "has_stamp": bool,
}
NON_DETECTION_DTYPES: dict[str, Any] = {"mjd": float, "fid": np.int8, "diffmaglim": float}
MJD_DECIMALS = 6  # non-detections at the same band and epoch to 0.1 s are the same one


def empty_detections() -> Columns:
    return {name: np.empty(0, dtype=dtype) for name, dtype in DETECTION_DTYPES.items()}


def empty_non_detections() -> Columns:
    return {name: np.empty(0, dtype=dtype) for name, dtype in NON_DETECTION_DTYPES.items()}


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def detection_columns(detections: Sequence[Detection]) -> Columns:
    """Alert-model detections to columns, with ALeRCE's correction computed."""
    if not detections:
        return empty_detections()
    magpsf = np.array([d.magpsf for d in detections], dtype=float)
    sigmapsf = np.array([d.sigmapsf for d in detections], dtype=float)
    isdiffpos = np.array([d.isdiffpos for d in detections], dtype=np.int8)
    corrected = correct_magnitudes(
        magpsf, sigmapsf, isdiffpos,
        _floats([d.magnr for d in detections]), _floats([d.sigmagnr for d in detections]),
        _floats([d.distnr for d in detections]),
    )
    return {
        "candid": np.array([d.candid for d in detections], dtype=np.int64),
        "mjd": np.array([d.mjd for d in detections], dtype=float),
        "fid": np.array([d.fid for d in detections], dtype=np.int8),
        "ra": np.array([d.ra for d in detections], dtype=float),
        "dec": np.array([d.dec for d in detections], dtype=float),
        "magpsf": magpsf, "sigmapsf": sigmapsf, "isdiffpos": isdiffpos,
        "magpsf_corr": corrected.magpsf_corr, "sigmapsf_corr": corrected.sigmapsf_corr,
        "sigmapsf_corr_ext": corrected.sigmapsf_corr_ext, "corrected": corrected.corrected,
        "has_stamp": np.array([d.has_stamp for d in detections], dtype=bool),
    }


def non_detection_columns(non_detections: Sequence[NonDetection]) -> Columns:
    if not non_detections:
        return empty_non_detections()
    return {
        "mjd": np.array([n.mjd for n in non_detections], dtype=float),
        "fid": np.array([n.fid for n in non_detections], dtype=np.int8),
        "diffmaglim": np.array([n.diffmaglim for n in non_detections], dtype=float),
    }


def table_detection_columns(table: Mapping[str, Any]) -> Columns:
    """Columns from a table (dict of sequences, DataFrame, store rows): ALeRCE CSVs and the store.

    mjd, fid, magpsf and sigmapsf are required. isdiffpos may be +1/-1 or 't'/'f'. Corrected
    magnitudes are taken as given when present, else computed from magnr/sigmagnr/distnr.
    """
    missing = [name for name in ("mjd", "fid", "magpsf", "sigmapsf") if name not in table]
    if missing:
        raise ValueError(f"detections lack the columns {missing}")
    n = len(np.asarray(table["mjd"]))

    def column(name: str, default: Any, dtype: Any) -> np.ndarray:
        if name not in table:
            return np.full(n, default, dtype=dtype)
        values = np.asarray(table[name], dtype=object)
        values = np.where(values == None, default, values)  # noqa: E711 (elementwise)
        return values.astype(dtype)

    isdiffpos = _isdiffpos(table["isdiffpos"]) if "isdiffpos" in table else np.ones(n, dtype=np.int8)
    candid = (np.array([as_int(v) for v in table["candid"]], dtype=np.int64) if "candid" in table
              else np.full(n, -1, dtype=np.int64))
    columns: Columns = {
        "candid": candid,
        "mjd": column("mjd", np.nan, float), "fid": column("fid", 0, np.int8),
        "ra": column("ra", np.nan, float), "dec": column("dec", np.nan, float),
        "magpsf": column("magpsf", np.nan, float), "sigmapsf": column("sigmapsf", np.nan, float),
        "isdiffpos": isdiffpos, "has_stamp": column("has_stamp", False, bool),
    }
    if "magpsf_corr" in table:
        columns["magpsf_corr"] = column("magpsf_corr", np.nan, float)
        columns["sigmapsf_corr"] = column("sigmapsf_corr", np.nan, float)
        columns["sigmapsf_corr_ext"] = column("sigmapsf_corr_ext", np.nan, float)
        columns["corrected"] = (column("corrected", False, bool) if "corrected" in table
                                else np.isfinite(columns["magpsf_corr"]))
    else:
        result = correct_magnitudes(
            columns["magpsf"], columns["sigmapsf"], isdiffpos, column("magnr", np.nan, float),
            column("sigmagnr", np.nan, float), column("distnr", np.nan, float))
        columns.update(magpsf_corr=result.magpsf_corr, sigmapsf_corr=result.sigmapsf_corr,
                       sigmapsf_corr_ext=result.sigmapsf_corr_ext, corrected=result.corrected)
    if columns["candid"].size and (columns["candid"] < 0).any():  # no candid: one per row
        columns["candid"] = np.where(columns["candid"] < 0, -1 - np.arange(n), columns["candid"])
    return columns


def stored_detection_columns(rows: Sequence[Mapping[str, Any]]) -> Columns:
    """The store's detection rows (typed columns, corrections stored) straight to columns: the
    same as ``table_detection_columns`` of them, without object arrays or text isdiffpos."""
    def floats(name: str) -> np.ndarray:  # NULL -> NaN
        return np.array([row[name] for row in rows], dtype=float)

    def flags(name: str) -> np.ndarray:  # NULL -> False
        return np.array([bool(row[name]) for row in rows], dtype=bool)

    return {
        "candid": np.array([row["candid"] for row in rows], dtype=np.int64),
        "mjd": floats("mjd"), "fid": np.array([row["fid"] or 0 for row in rows], dtype=np.int8),
        "ra": floats("ra"), "dec": floats("dec"), "magpsf": floats("magpsf"), "sigmapsf": floats("sigmapsf"),
        "isdiffpos": np.array([-1 if row["isdiffpos"] in (-1, 0) else 1 for row in rows], dtype=np.int8),
        "has_stamp": flags("has_stamp"), "magpsf_corr": floats("magpsf_corr"),
        "sigmapsf_corr": floats("sigmapsf_corr"), "sigmapsf_corr_ext": floats("sigmapsf_corr_ext"),
        "corrected": flags("corrected"),
    }


def stored_non_detection_columns(rows: Sequence[Mapping[str, Any]]) -> Columns:
    """The store's non-detection rows to columns."""
    return {"mjd": np.array([row["mjd"] for row in rows], dtype=float),
            "fid": np.array([row["fid"] for row in rows], dtype=np.int8),
            "diffmaglim": np.array([row["diffmaglim"] for row in rows], dtype=float)}


def table_non_detection_columns(table: Mapping[str, Any]) -> Columns:
    """Non-detections from a table with mjd (or jd), fid and diffmaglim."""
    if "mjd" in table:
        mjd = np.asarray(table["mjd"], dtype=float)
    elif "jd" in table:
        mjd = np.asarray(table["jd"], dtype=float) - 2400000.5
    else:
        raise ValueError("non-detections lack an mjd or jd column")
    return {"mjd": mjd, "fid": np.asarray(table["fid"], dtype=np.int8),
            "diffmaglim": np.asarray(table["diffmaglim"], dtype=float)}


def as_int(value: Any) -> int:
    """An identifier from a table cell: exact for ints and digit strings, -1 when missing."""
    if value is None or value == "" or (isinstance(value, float) and not np.isfinite(value)):
        return -1
    return int(value) if not isinstance(value, str) else int(value.split(".")[0])


def _isdiffpos(values: Any) -> np.ndarray:
    raw = np.asarray(values, dtype=object)
    negative = np.isin(raw.astype(str), ["f", "-1", "-1.0", "0", "False", "false"])
    return np.where(negative, -1, 1).astype(np.int8)


def concat(parts: Sequence[Columns]) -> Columns:
    parts = [p for p in parts if p and next(iter(p.values())).size]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def merge_detections(*parts: Columns) -> Columns:
    """One row per candid, oldest first.

    The copy an alert carried as its candidate (``has_stamp``) wins over copies from later
    alerts' histories, and otherwise the first part's copy (the store's) wins, so the merge
    gives the same light curve whatever order and batching the alerts arrived in.
    """
    merged = concat(parts)
    if not merged:
        return empty_detections()
    candid = merged["candid"]
    if _in_order_and_unique(merged["mjd"], candid):  # one alert's curve: nothing to merge
        return dict(merged)
    # Sort so that the preferred copy of each candid comes first, then keep firsts.
    order = np.lexsort((np.arange(candid.size), ~merged["has_stamp"], candid))
    sorted_candid = candid[order]
    keep = order[np.concatenate(([True], sorted_candid[1:] != sorted_candid[:-1]))]
    keep = keep[np.argsort(merged["mjd"][keep], kind="stable")]
    return {name: values[keep] for name, values in merged.items()}


def merge_non_detections(*parts: Columns) -> Columns:
    """One row per (fid, mjd rounded to 1e-6 d), oldest first."""
    merged = concat(parts)
    if not merged:
        return empty_non_detections()
    key = np.round(merged["mjd"] * 10**MJD_DECIMALS).astype(np.int64) * 8 + merged["fid"]
    if _in_order_and_unique(merged["mjd"], key):
        return dict(merged)
    reversed_index = np.arange(key.size)[::-1]
    _, first = np.unique(key[reversed_index], return_index=True)
    keep = reversed_index[first]
    keep = keep[np.argsort(merged["mjd"][keep], kind="stable")]
    return {name: values[keep] for name, values in merged.items()}



def _in_order_and_unique(mjd: np.ndarray, key: np.ndarray) -> bool:
    """Rows strictly oldest first (a tie is ordered by key) with no key twice: what a merge
    would return, unchanged (a Python set beats ``np.unique`` on one alert's few dozen rows)."""
    return bool((mjd[1:] > mjd[:-1]).all()) and len(set(key.tolist())) == key.size
