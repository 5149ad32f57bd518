"""The broker's side of the classified stream: one classified alert as the contract's record.

The wire format (schema, encode, decode) is :mod:`alerce_contract.classified`, shared with the
TOM listener; this module only turns the worker's ClassifiedAlert and LightCurve into the
record, whose ``classifications`` has the shape that ``alerce-classifier classify`` prints.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from alerce_contract.names import solar_system_name
from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.lightcurve.model import LightCurve
from classifier_service.stream.base import ClassifiedAlert


def classified_record(alert: ClassifiedAlert, lightcurve: LightCurve | None = None) -> dict[str, Any]:
    """The Avro record of one classified alert (plain Python values, NaN as null)."""
    return {
        **alert_fields(alert),
        "detections": detection_records(lightcurve) if lightcurve is not None else [],
        "non_detections": non_detection_records(lightcurve) if lightcurve is not None else [],
    }


def alert_fields(alert: ClassifiedAlert) -> dict[str, Any]:
    """The record's fields but the object's history: what the JSON-lines sink writes too."""
    ssnamenr, ssdistnr = solar_system_association(alert.ssnamenr, alert.ssdistnr)
    return {
        "objectId": alert.oid,
        "candid": int(alert.candid),
        "survey": alert.survey,
        "ra": float(alert.ra),
        "dec": float(alert.dec),
        "mjd": float(alert.mjd),
        "fid": int(alert.fid),
        "magpsf": float(alert.magpsf),
        "sigmapsf": float(alert.sigmapsf),
        "ndet": int(alert.ndet),
        "firstmjd": float(alert.firstmjd),
        "lastmjd": float(alert.lastmjd),
        "classifications": classifications_dict(alert.classifications),
        "ssnamenr": ssnamenr,
        "ssdistnr": ssdistnr,
    }


def classifications_dict(outputs: Sequence[ClassifierOutput]) -> dict[str, dict[str, Any]]:
    """{classifier_name: {"version", "probabilities": {class_name: p}}}, ALeRCE's shape."""
    return {
        output.classifier_name: {
            "version": str(output.classifier_version),
            "probabilities": {str(k): float(v) for k, v in output.probabilities.items()},
        }
        for output in outputs
    }


def solar_system_association(name: Any, distance: Any) -> tuple[str | None, float | None]:
    """The candidate's nearest known solar-system object and its distance (arcsec), each None
    where the survey gives none: ZTF's "null" name and -999 (any negative) distance mean none, and
    the record says null instead, so no reader needs to know ZTF's placeholders."""
    known_name = solar_system_name(name)
    known_distance = _finite_or_none(distance)
    return known_name, known_distance if known_distance is not None and known_distance >= 0 else None


def detection_records(lc: LightCurve) -> list[dict[str, Any]]:
    """The light curve's detections as schema records.

    ``candid``, ``ra`` and ``dec`` are null where the LightCurve does not know them (a curve
    read from a table without ids numbers its rows with negative stand-ins: those are not ids).
    """
    n = len(lc)
    candid = _optional_column(lc, "candid", n)
    ra = _optional_column(lc, "ra", n)
    dec = _optional_column(lc, "dec", n)
    return [
        {
            "candid": None if candid[i] is None or candid[i] < 0 else int(candid[i]),
            "mjd": float(lc.mjd[i]),
            "fid": int(lc.fid[i]),
            "magpsf": float(lc.magpsf[i]),
            "sigmapsf": float(lc.sigmapsf[i]),
            "magpsf_corr": _finite_or_none(lc.magpsf_corr[i]),
            "sigmapsf_corr": _finite_or_none(lc.sigmapsf_corr[i]),
            "isdiffpos": int(lc.isdiffpos[i]),
            "ra": _finite_or_none(ra[i]),
            "dec": _finite_or_none(dec[i]),
        }
        for i in range(n)
    ]


def non_detection_records(lc: LightCurve) -> list[dict[str, Any]]:
    return [
        {"mjd": float(mjd), "fid": int(fid), "diffmaglim": float(lim)}
        for mjd, fid, lim in zip(lc.nd_mjd, lc.nd_fid, lc.nd_diffmaglim)
        if math.isfinite(lim)
    ]


def _optional_column(lc: LightCurve, name: str, n: int) -> list[Any]:
    values = getattr(lc, name)
    return list(values) if len(values) == n else [None] * n


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
