"""A target's photometry from the TOM's PhotometryReducedDatum rows, as arrays for the plots.

Detections have a brightness, non-detections only a limit; forced photometry is marked by the
plugin with ``value["forced"]`` or a ``reduction_version`` starting with "forced"; a detection's
apparent (corrected) magnitude is ``value["magpsf_corr"]`` where the broker computed one.
"""
from __future__ import annotations

import numpy as np
from tom_dataproducts.models import PhotometryReducedDatum

from alerce_contract.mjd import datetime_to_mjd
from tom_alerce.plots import Photometry


def is_forced(reduction_version: str, value: dict | None) -> bool:
    return reduction_version.lower().startswith("forced") or bool((value or {}).get("forced"))


def target_photometry(target) -> Photometry:
    """Every photometry point of ``target``, oldest first."""
    rows = (PhotometryReducedDatum.objects.filter(target=target)
            .order_by("timestamp")
            .values_list("timestamp", "brightness", "brightness_error", "limit", "bandpass",
                         "reduction_version", "value"))
    mjd, mag, err, band, kind, apparent, apparent_err = [], [], [], [], [], [], []
    for timestamp, brightness, error, limit, bandpass, version, value in rows:
        if brightness is None and limit is None:
            continue
        mjd.append(datetime_to_mjd(timestamp))
        band.append(bandpass)
        value = value if isinstance(value, dict) else {}
        if brightness is None:
            mag.append(limit), err.append(np.nan), kind.append("limit")
        else:
            mag.append(brightness), err.append(error if error is not None else np.nan)
            kind.append("forced" if is_forced(version, value) else "detection")
        apparent.append(_number(value.get("magpsf_corr"))), apparent_err.append(_number(value.get("sigmapsf_corr")))
    return Photometry(*(np.asarray(a, dtype=float) for a in (mjd, mag, err)), np.asarray(band, dtype=object),
                      np.asarray(kind, dtype=object), np.asarray(apparent, dtype=float),
                      np.asarray(apparent_err, dtype=float))


def _number(value) -> float:
    """A stored value as a float, NaN when missing or not a number (ALeRCE writes null or 100)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return np.nan
    return number if np.isfinite(number) and number < 99 else np.nan
