"""Per-object and per-band statistics of a light curve: ALeRCE's ``object`` and ``magstat`` rows.

Inputs are the merged detection and non-detection columns of one object (see
:mod:`classifier_service.lightcurve.columns`, with ``dubious`` filled in); outputs are plain
dicts keyed by the store's column names, with None where a value is undefined.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from alerce_contract.sky import wrapped_ra
from classifier_service.alert import JD_TO_MJD
from classifier_service.lightcurve.columns import Columns
from classifier_service.lightcurve.correction import is_stellar

STEP_ID = "alerce-tom-suite-0.1"
# ZTF astrometric error per band (arcsec), ALeRCE's weights for the mean position.
POSITION_ERROR_ARCSEC = {1: 0.065, 2: 0.085, 3: 0.01}
OTHER_POSITION_ERROR_ARCSEC = 0.1
# The same by fid, for np.take (fids outside 1..3 clip onto an entry of the default).
_ERROR_BY_FID = np.array([OTHER_POSITION_ERROR_ARCSEC, *POSITION_ERROR_ARCSEC.values(), OTHER_POSITION_ERROR_ARCSEC])
SATURATION_MAG = 13.2  # corrected magnitudes brighter than this are saturated in ZTF
DMDT_MIN_DT = 0.5  # days between a non-detection and the first detection to count for dm/dt


def _value(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _stats(magnitudes: list[float], suffix: str) -> dict[str, float | None]:
    """mean, median, max, min, sigma (ddof 1), first, last of the finite magnitudes in time order.

    Light curves are short, so plain Python on a list beats numpy's per-call overhead.
    """
    values = [m for m in magnitudes if math.isfinite(m)]
    n = len(values)
    if n == 0:
        return {f"mag{k}{suffix}": None for k in ("mean", "median", "max", "min", "sigma", "first", "last")}
    mean = math.fsum(values) / n
    ordered = sorted(values)
    half = n // 2
    median = ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
    sigma = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {
        f"magmean{suffix}": mean, f"magmedian{suffix}": median, f"magmax{suffix}": ordered[-1],
        f"magmin{suffix}": ordered[0], f"magsigma{suffix}": sigma,
        f"magfirst{suffix}": values[0], f"maglast{suffix}": values[-1],
    }


def magnitude_statistics(oid: str, det: Columns, nd: Columns, stellar: bool) -> list[dict[str, Any]]:
    """One ``magstat`` row per band; detections must be in time order.

    In plain Python over lists: a band holds a few dozen detections, where each numpy call
    costs more than the arithmetic.
    """
    mjd, magpsf, magpsf_corr = det["mjd"].tolist(), det["magpsf"].tolist(), det["magpsf_corr"].tolist()
    corrected, dubious = det["corrected"].tolist(), det["dubious"].tolist()
    bands: dict[int, list[int]] = {}
    for i, fid in enumerate(det["fid"].tolist()):
        bands.setdefault(fid, []).append(i)
    limits: dict[int, tuple[list[float], list[float]]] = {}  # fid -> (mjd, diffmaglim) of its upper limits
    for fid, nd_mjd, limit in zip(nd["fid"].tolist(), nd["mjd"].tolist(), nd["diffmaglim"].tolist()):
        band = limits.setdefault(fid, ([], []))
        band[0].append(nd_mjd)
        band[1].append(limit)
    rows = []
    for fid in sorted(bands):
        in_band = bands[fid]
        first, last = in_band[0], in_band[-1]
        band_corr = [magpsf_corr[i] for i in in_band]
        corrected_mags = [m for m in band_corr if math.isfinite(m)]
        row: dict[str, Any] = {
            "oid": oid, "fid": fid, "stellar": stellar, "corrected": bool(corrected[first]),
            "ndet": len(in_band), "ndubious": sum(bool(dubious[i]) for i in in_band),
            "firstmjd": mjd[first], "lastmjd": mjd[last], "step_id_corr": STEP_ID,
            "saturation_rate": (sum(m < SATURATION_MAG for m in corrected_mags) / len(corrected_mags)
                                if corrected_mags else None),
            **_stats([magpsf[i] for i in in_band], ""), **_stats(band_corr, "_corr"),
        }
        nd_mjd, nd_limit = limits.get(fid, ((), ()))
        row.update(first_rise(mjd[first], magpsf[first], float(det["sigmapsf"][first]), nd_mjd, nd_limit))
        rows.append(row)
    return rows


def first_rise(first_mjd: float, first_mag: float, first_sigma: float,
               nd_mjd: Sequence[float], nd_diffmaglim: Sequence[float]) -> dict[str, float | None]:
    """ALeRCE's dm/dt at discovery: the steepest brightening from an earlier upper limit.

    The first of the steepest, or of the undefined (NaN) ones if any, as ``np.argmin`` picks.
    """
    best: tuple[float, float, float] | None = None  # (dmdt, dt, limit)
    for mjd, limit in zip(nd_mjd, nd_diffmaglim):
        dt = first_mjd - mjd
        if not dt > DMDT_MIN_DT:
            continue
        dmdt = (first_mag + first_sigma - limit) / dt
        if best is None or dmdt < best[0] or (dmdt != dmdt and best[0] == best[0]):
            best = (dmdt, dt, limit)
    if best is None:
        return {"dt_first": None, "dm_first": None, "sigmadm_first": None, "dmdt_first": None}
    dmdt, dt, limit = best
    return {"dt_first": _value(dt), "dm_first": _value(first_mag - limit),
            "sigmadm_first": _value(first_sigma - limit), "dmdt_first": _value(dmdt)}


def mean_position(ra: np.ndarray, dec: np.ndarray, fid: np.ndarray) -> tuple[float, float, float, float]:
    """Error-weighted mean (ra, dec) in degrees and their errors in arcsec; RA wraps at 360."""
    error_dec = np.take(_ERROR_BY_FID, fid, mode="clip")
    error_ra = error_dec / np.maximum(np.abs(np.cos(np.radians(dec))), 1e-6)
    weight_ra, weight_dec = error_ra ** -2.0, error_dec ** -2.0
    total_ra, total_dec = weight_ra.sum(), weight_dec.sum()
    offset = (ra - ra[0] + 180.0) % 360.0 - 180.0  # about the first position: no jump at 0/360
    meanra = wrapped_ra(ra[0] + (weight_ra * offset).sum() / total_ra)
    meandec = (weight_dec * dec).sum() / total_dec
    return float(meanra), float(meandec), float(total_ra ** -0.5), float(total_dec ** -0.5)


def object_statistics(oid: str, det: Columns, magstats: list[dict[str, Any]], metadata: dict[str, Any],
                      survey: str = "ZTF") -> dict[str, Any]:
    """The ``object`` row from the merged detections (time order) and the band statistics."""
    ra, dec, fid = det["ra"], det["dec"], det["fid"]
    located = np.isfinite(ra) & np.isfinite(dec)
    if not located.all():
        ra, dec, fid = ra[located], dec[located], fid[located]
    if ra.size:
        meanra, meandec, sigmara, sigmadec = mean_position(ra, dec, fid)
    else:
        meanra = meandec = sigmara = sigmadec = math.nan
    first_corrected = bool(det["corrected"][0])
    by_band = {row["fid"]: row for row in magstats}
    g, r = by_band.get(1, {}), by_band.get(2, {})

    def colour(key: str) -> float | None:
        if g.get(key) is None or r.get(key) is None:
            return None
        return g[key] - r[key]

    def hist_mjd(key: str) -> float | None:
        value = metadata.get(key)
        return None if value is None else float(value) - JD_TO_MJD

    return {
        "oid": oid, "survey": survey,
        "ndethist": metadata.get("ndethist"), "ncovhist": metadata.get("ncovhist"),
        "mjdstarthist": hist_mjd("jdstarthist"), "mjdendhist": hist_mjd("jdendhist"),
        "corrected": first_corrected,
        "stellar": is_stellar(first_corrected, metadata.get("distpsnr1"), metadata.get("sgscore1")),
        "ndet": int(det["mjd"].size),
        "g_r_max": colour("magmin"), "g_r_max_corr": colour("magmin_corr"),
        "g_r_mean": colour("magmean"), "g_r_mean_corr": colour("magmean_corr"),
        "meanra": meanra, "meandec": meandec,
        "sigmara": _value(sigmara), "sigmadec": _value(sigmadec),
        "firstmjd": float(det["mjd"][0]), "lastmjd": float(det["mjd"][-1]),
        "deltajd": float(det["mjd"][-1] - det["mjd"][0]),
        "diffpos": bool(det["isdiffpos"][0] > 0), "reference_change": None, "step_id_corr": STEP_ID,
    }
