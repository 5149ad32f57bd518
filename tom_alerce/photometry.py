"""A target's photometry from the TOM's PhotometryReducedDatum rows, as arrays for the plots.

Detections have a brightness, non-detections only a limit; forced photometry is marked by the
plugin with ``value["forced"]`` or a ``reduction_version`` starting with "forced".
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
    mjd, mag, err, band, kind = [], [], [], [], []
    for timestamp, brightness, error, limit, bandpass, version, value in rows:
        if brightness is None and limit is None:
            continue
        mjd.append(datetime_to_mjd(timestamp))
        band.append(bandpass)
        if brightness is None:
            mag.append(limit), err.append(np.nan), kind.append("limit")
        else:
            mag.append(brightness), err.append(error if error is not None else np.nan)
            kind.append("forced" if is_forced(version, value) else "detection")
    return Photometry(np.asarray(mjd, dtype=float), np.asarray(mag, dtype=float), np.asarray(err, dtype=float),
                      np.asarray(band, dtype=object), np.asarray(kind, dtype=object))
