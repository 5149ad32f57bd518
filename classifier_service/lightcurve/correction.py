"""ALeRCE's correction of difference magnitudes to apparent magnitudes, and its flags.

When a detection sits on a reference-image source (``distnr`` < 1.4"), the difference flux
is added to (or, for negative subtractions, taken from) the reference flux, which gives the
apparent magnitude of the whole source: what a variable star's light curve is made of.
Pure functions over arrays; one row per detection.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

DISTANCE_THRESHOLD = 1.4  # arcsec to the nearest reference source: within it, correct
STELLAR_PS1_DISTANCE = 1.5  # arcsec to the nearest PS1 source
STELLAR_PS1_SCORE = 0.5  # sgscore1 above which the PS1 source is a star
ERROR_WHEN_UNDEFINED = 100.0  # ALeRCE's sigmapsf_corr when the propagated variance is negative


class CorrectedMagnitudes(NamedTuple):
    magpsf_corr: np.ndarray
    sigmapsf_corr: np.ndarray
    sigmapsf_corr_ext: np.ndarray
    corrected: np.ndarray  # bool: distnr < 1.4"


def is_corrected(distnr: np.ndarray) -> np.ndarray:
    """Detections close enough to a reference source to be corrected (NaN distnr: no)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(distnr, dtype=float) < DISTANCE_THRESHOLD


def correct_magnitudes(
    magpsf: np.ndarray, sigmapsf: np.ndarray, isdiffpos: np.ndarray,
    magnr: np.ndarray, sigmagnr: np.ndarray, distnr: np.ndarray,
) -> CorrectedMagnitudes:
    """magpsf_corr = -2.5 log10(10^(-0.4 magnr) + isdiffpos 10^(-0.4 magpsf)) and its errors.

    NaN where the detection is not corrected or where the summed flux is not positive.
    """
    magpsf = np.asarray(magpsf, dtype=float)
    sigmapsf = np.asarray(sigmapsf, dtype=float)
    corrected = is_corrected(distnr)
    if not corrected.any():  # no detection on a reference source (about half the objects): all NaN
        return CorrectedMagnitudes(*(np.full(magpsf.shape, np.nan) for _ in range(3)), corrected)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        flux_ref = 10.0 ** (-0.4 * np.asarray(magnr, dtype=float))
        flux_diff = 10.0 ** (-0.4 * magpsf)
        flux_total = flux_ref + np.asarray(isdiffpos, dtype=float) * flux_diff
        valid = corrected & (flux_total > 0)
        total = np.where(valid, flux_total, np.nan)
        magpsf_corr = -2.5 * np.log10(total)
        variance = (flux_diff * sigmapsf) ** 2 - (flux_ref * np.asarray(sigmagnr, dtype=float)) ** 2
        sigmapsf_corr = np.where(variance < 0, ERROR_WHEN_UNDEFINED, np.sqrt(variance) / total)
        sigmapsf_corr = np.where(valid, sigmapsf_corr, np.nan)
        sigmapsf_corr_ext = flux_diff * sigmapsf / total
    return CorrectedMagnitudes(magpsf_corr, sigmapsf_corr, sigmapsf_corr_ext, corrected)


def first_in_band(mjd: np.ndarray, fid: np.ndarray) -> np.ndarray:
    """Index, for every detection, of the earliest detection of the same band.

    Sorted by band then time, each row takes the position where its band starts (a running
    maximum of the starts): a few whole-array calls, which a light curve of a handful of
    detections pays in call overhead, not arithmetic.
    """
    order = np.lexsort((mjd, fid))
    sorted_fid = fid[order]
    start_of = np.zeros(fid.size, dtype=np.intp)
    starts = np.flatnonzero(sorted_fid[1:] != sorted_fid[:-1]) + 1
    start_of[starts] = starts
    np.maximum.accumulate(start_of, out=start_of)
    out = np.empty(fid.size, dtype=np.intp)
    out[order] = order[start_of]
    return out


def dubious_flags(mjd: np.ndarray, fid: np.ndarray, isdiffpos: np.ndarray,
                  corrected: np.ndarray) -> np.ndarray:
    """ALeRCE's dubious correction: a negative detection left uncorrected, or a detection whose
    corrected state differs from the first detection of its band (the reference changed)."""
    if mjd.size == 0:
        return np.zeros(0, dtype=bool)
    first_corrected = corrected[first_in_band(mjd, fid)]
    negative = np.asarray(isdiffpos) < 0
    return (~corrected & negative) | (first_corrected & ~corrected) | (~first_corrected & corrected)


def is_stellar(first_corrected: bool, distpsnr1: float | None, sgscore1: float | None) -> bool:
    """A corrected source that also sits on a PS1 point source: a star, not a transient."""
    if distpsnr1 is None or sgscore1 is None:
        return False
    return bool(first_corrected and 0 <= distpsnr1 < STELLAR_PS1_DISTANCE and sgscore1 > STELLAR_PS1_SCORE)
