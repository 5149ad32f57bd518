"""Alert-model records and light-curve results to rows of the store's tables.

Only what changed is turned into rows: a detection already stored with the same flags is
not written again, which keeps a replay (and ZTF's 30-day histories) cheap.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from alerce_contract.bands import FLUX_TO_MAG_ERROR
from classifier_service.alert import Alert, Detection, ForcedPhotometry, NonDetection
from classifier_service.classifiers.base import Classification, ClassifierOutput
from classifier_service.lightcurve.columns import MJD_DECIMALS, Columns
from classifier_service.lightcurve.stats import STEP_ID
from classifier_service.stream.base import DeadLetter

# Detection attributes stored as they are, and the survey fields taken from Detection.extra.
_DETECTION_ATTRIBUTES = ("candid", "oid", "mjd", "fid", "pid", "diffmaglim", "ra", "dec",
                         "magpsf", "sigmapsf", "isdiffpos", "distnr", "rb", "drb",
                         "has_stamp", "parent_candid")
_DETECTION_EXTRA = ("nid", "magap", "sigmagap", "rbversion", "drbversion", "magapbig",
                    "sigmagapbig", "rfid")
_CORRECTION_COLUMNS = ("magpsf_corr", "sigmapsf_corr", "sigmapsf_corr_ext", "corrected", "dubious")


def non_detection_keys(mjd: Sequence[float], fid: Sequence[int]) -> list[tuple[int, int]]:
    """The identities of upper limits: epoch to 1e-6 d and band (as the light-curve merge),
    in one numpy pass (``round`` on each numpy float costs ten times a float's)."""
    epochs = np.round(np.asarray(mjd, dtype=float) * 10**MJD_DECIMALS).astype(np.int64)
    return list(zip(epochs.tolist(), np.asarray(fid, dtype=np.int64).tolist()))


def detection_rows(detections: Iterable[Detection], merged: Columns,
                   stored: Mapping[int, tuple[bool, bool]]) -> list[dict[str, Any]]:
    """Rows for new detections and for stored ones whose dubious/has_stamp flag changed.

    ``merged`` is the object's merged light curve (with ``dubious``); ``stored`` maps a
    stored candid to its (dubious, has_stamp).
    """
    index = {candid: i for i, candid in enumerate(merged["candid"].tolist())}
    corrections = {name: merged[name].tolist() for name in _CORRECTION_COLUMNS}
    best: dict[int, Detection] = {}
    for det in detections:  # the copy that came as an alert's candidate wins
        if det.candid not in best or det.has_stamp:
            best[det.candid] = det
    rows = []
    for candid, det in best.items():
        i = index[candid]
        dubious = corrections["dubious"][i]
        previous = stored.get(candid)
        if previous is not None and previous[0] == dubious and (previous[1] or not det.has_stamp):
            continue
        row = {name: getattr(det, name) for name in _DETECTION_ATTRIBUTES}
        row.update({name: det.extra.get(name) for name in _DETECTION_EXTRA})
        row.update({name: values[i] for name, values in corrections.items()})
        row["step_id_corr"] = STEP_ID
        rows.append(row)
    return rows


def non_detection_rows(non_detections: Iterable[NonDetection],
                       stored: set[tuple[int, int]]) -> list[dict[str, Any]]:
    non_detections = list(non_detections)
    keys = non_detection_keys([nd.mjd for nd in non_detections], [nd.fid for nd in non_detections])
    rows = {}
    for nd, key in zip(non_detections, keys):
        if key not in stored:
            rows[key] = {"oid": nd.oid, "fid": nd.fid, "mjd": nd.mjd, "diffmaglim": nd.diffmaglim}
    return list(rows.values())


def forced_photometry_rows(points: Sequence[ForcedPhotometry],
                           stored: set[tuple[str, int]] = frozenset()) -> list[dict[str, Any]]:
    """New forced-photometry epochs, with the difference flux as a magnitude where positive.
    ``stored``, the epochs the store holds of the whole batch, is looked up, not copied for each
    object: the copies cost a replay of stored alerts 13 µs an alert."""
    rows = []
    seen: set[tuple[str, int]] = set()
    for fp in points:
        key = (fp.oid, fp.pid)
        if key in stored or key in seen:
            continue
        seen.add(key)
        flux, error, zeropoint = fp.forcediffimflux, fp.forcediffimfluxunc, fp.magzpsci
        positive = flux is not None and zeropoint is not None and flux > 0
        rows.append({
            "oid": fp.oid, "pid": fp.pid, "mjd": fp.mjd, "fid": fp.fid,
            "forcediffimflux": flux, "forcediffimfluxunc": error, "magzpsci": zeropoint,
            "diffmaglim": fp.diffmaglim,
            "mag": zeropoint - 2.5 * math.log10(flux) if positive else None,
            "e_mag": FLUX_TO_MAG_ERROR * error / flux if positive and error is not None else None,
            "extra": fp.extra,  # made JSON by the store (json_columns)
        })
    return rows


def probability_rows(oid: str, outputs: Iterable[ClassifierOutput]) -> list[dict[str, Any]]:
    return [
        {"oid": oid, "classifier_name": out.classifier_name, "classifier_version": out.classifier_version,
         "class_name": name, "probability": float(p), "ranking": rank}
        for out in outputs for name, p, rank in out.ranked()
    ]


def feature_rows(oid: str, classification: Classification) -> list[dict[str, Any]]:
    version = classification.feature_version or "unversioned"
    return [{"oid": oid, "name": name, "fid": int(fid), "version": version, "value": _finite(value)}
            for (name, fid), value in classification.features.items()]


# Pan-STARRS1 neighbours of the first alert (ALeRCE's ps1_ztf table): the host hints the SN Hunter
# shows and the stamp classifier reads, served as features of every object, however short its curve.
HOST_FEATURES = ("sgscore1", "distpsnr1", "sgscore2", "distpsnr2", "sgscore3", "distpsnr3",
                 "sgmag1", "srmag1", "simag1", "szmag1")
HOST_FEATURE_VERSION = "ps1_ztf"


def host_feature_rows(alert: Alert) -> list[dict[str, Any]]:
    """The first alert's PS1 neighbour fields as feature rows; ZTF's -999 'missing' is left out."""
    rows = []
    for name in HOST_FEATURES:
        value = alert.metadata.get(name)
        if value is None or not math.isfinite(value) or value <= -999:
            continue
        rows.append({"oid": alert.oid, "name": name, "fid": 0, "version": HOST_FEATURE_VERSION, "value": float(value)})
    return rows


def taxonomy_rows(classifiers: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"classifier_name": name, "classifier_version": classifier.version, "classes": list(classes)}
            for classifier in classifiers for name, classes in classifier.taxonomy().items()]


def cutout_row(alert: Alert) -> dict[str, Any]:
    return {"oid": alert.oid, "candid": alert.candid, "science": alert.cutouts.science,
            "template": alert.cutouts.template, "difference": alert.cutouts.difference}


# A dead letter keeps at most this much of its payload (ZTF and Rubin alerts are under
# 400 kB); a larger one is kept as this prefix, its size and its SHA-256.
DEAD_LETTER_PAYLOAD_BYTES = 1 << 20


def dead_letter_row(letter: DeadLetter) -> dict[str, Any]:
    """The row of a dead letter: always writable (text made safe by DeadLetter, payload capped)."""
    payload = letter.payload
    return {"source": letter.source, "stage": letter.stage, "reason": letter.reason,
            "oid": letter.oid, "candid": letter.candid,
            "payload": None if payload is None else payload[:DEAD_LETTER_PAYLOAD_BYTES],
            "payload_size": None if payload is None else len(payload),
            "payload_sha256": None if payload is None else hashlib.sha256(payload).hexdigest()}


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None

