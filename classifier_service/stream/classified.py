"""The classified stream's wire format: one classified alert per Avro container payload.

Each payload carries its writer schema (``schemas/classified_alert.avsc``) in the header, as
ZTF's own alerts do, so any Avro reader decodes it without a schema registry and readers
of a newer schema version resolve older payloads. ``decode_classified`` returns the same
``classifications`` shape that ``alerce-classifier classify`` prints, which is what the TOM
listener stores.
"""
from __future__ import annotations

import io
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import fastavro

from classifier_service.lightcurve.model import LightCurve
from classifier_service.stream.base import ClassifiedAlert

SCHEMA_RESOURCE = "schemas/classified_alert.avsc"


class ClassifiedDecodeError(ValueError):
    """A payload that is not one classified-alert record."""


@lru_cache(maxsize=1)
def classified_schema() -> dict[str, Any]:
    """The parsed classified-alert schema (parsed once: parsing costs more than encoding)."""
    text = resources.files("classifier_service.stream").joinpath(SCHEMA_RESOURCE).read_text()
    return fastavro.parse_schema(json.loads(text))


def classified_record(alert: ClassifiedAlert, lightcurve: LightCurve | None = None) -> dict[str, Any]:
    """The Avro record of one classified alert (plain Python values, NaN as null)."""
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
        "classifications": {
            output.classifier_name: {
                "version": str(output.classifier_version),
                "probabilities": {str(k): float(v) for k, v in output.probabilities.items()},
            }
            for output in alert.classifications
        },
        "detections": detection_records(lightcurve) if lightcurve is not None else [],
        "non_detections": non_detection_records(lightcurve) if lightcurve is not None else [],
    }


def detection_records(lc: LightCurve) -> list[dict[str, Any]]:
    """The light curve's detections as schema records.

    ``candid``, ``ra`` and ``dec`` are optional arrays of a LightCurve (null when absent).
    """
    n = len(lc)
    candid = _optional_column(lc, "candid", n)
    ra = _optional_column(lc, "ra", n)
    dec = _optional_column(lc, "dec", n)
    return [
        {
            "candid": None if candid[i] is None else int(candid[i]),
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


def encode_classified(alert: ClassifiedAlert, lightcurve: LightCurve | None = None) -> bytes:
    """One Kafka message value: an Avro container holding this alert's classified record."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, classified_schema(), [classified_record(alert, lightcurve)])
    return buffer.getvalue()


def decode_classified(payload: bytes) -> dict[str, Any]:
    """The record of one classified-alert payload; ClassifiedDecodeError if it is not one."""
    try:
        records = list(fastavro.reader(io.BytesIO(payload)))
    except Exception as exc:  # fastavro raises ValueError, EOFError, IndexError, ...
        raise ClassifiedDecodeError(f"not an Avro container: {type(exc).__name__}: {exc}") from exc
    if len(records) != 1 or "classifications" not in records[0]:
        raise ClassifiedDecodeError(f"expected one classified-alert record, found {len(records)}")
    return records[0]


def _optional_column(lc: LightCurve, name: str, n: int) -> list[Any]:
    values = getattr(lc, name, None)
    if values is None or len(values) != n:
        return [None] * n
    return list(values)


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
