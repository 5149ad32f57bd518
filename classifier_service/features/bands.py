"""Per-band arrays of a light curve: which magnitudes the features see, and who qualifies.

ALeRCE computes variable-star features on apparent (corrected) magnitudes and transient
features on difference magnitudes; an object whose detections are all corrected is read
in apparent magnitudes, any other in difference magnitudes. A corrected detection with no
apparent magnitude (the star fainter than its reference by more than its flux: a Mira near
minimum) is left out, as ALeRCE discards invalid values: read in difference magnitudes, a
star's |flux - reference| would brighten twice a cycle and give half its period.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerce_contract.bands import BAND_OF_FID
from alerce_contract.taxonomy import LC_MIN_DETECTIONS
from classifier_service.lightcurve.model import LightCurve

BANDS: dict[int, str] = {fid: BAND_OF_FID[fid] for fid in (1, 2)}  # ALeRCE's features use g and r
MIN_DETECTIONS = LC_MIN_DETECTIONS  # the contract's rule: this many detections in g or in r


@dataclass(slots=True, frozen=True)
class Band:
    """One band's detections, time-sorted, in the magnitudes the features use."""

    mjd: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    magpsf: np.ndarray  # difference magnitudes, for flux-space fits
    sigmapsf: np.ndarray
    isdiffpos: np.ndarray
    mag_corr: np.ndarray  # apparent magnitudes, NaN where uncorrected
    nd_mjd: np.ndarray  # this band's non-detections (upper limits)
    nd_limit: np.ndarray


@dataclass(slots=True, frozen=True)
class ObjectBands:
    """One object as every feature group sees it: its light curve and its bands split once."""

    lightcurve: LightCurve
    bands: dict[int, Band]

    @classmethod
    def of(cls, lc: LightCurve) -> ObjectBands:
        return cls(lc, split_bands(lc))


def is_classifiable(lc: LightCurve) -> bool:
    """At least MIN_DETECTIONS detections in g or in r."""
    return any(int(np.count_nonzero(lc.fid == fid)) >= MIN_DETECTIONS for fid in BANDS)


def uses_corrected(lc: LightCurve) -> bool:
    """Whether the object is read in apparent magnitudes (every detection corrected, whether or
    not its apparent magnitude is defined)."""
    return bool(lc.mjd.size) and bool(np.all(lc.corrected))


def split_bands(lc: LightCurve) -> dict[int, Band]:
    """g and r detections with finite magnitudes, oldest first (i band is not used)."""
    corrected = uses_corrected(lc)
    mag = lc.magpsf_corr if corrected else lc.magpsf
    err = lc.sigmapsf_corr_ext if corrected else lc.sigmapsf
    if corrected and not np.all(np.isfinite(err)):
        err = np.where(np.isfinite(err), err, lc.sigmapsf)
    bands = {}
    usable = np.isfinite(mag) & np.isfinite(err) & np.isfinite(lc.mjd)
    for fid in BANDS:
        rows = np.flatnonzero((lc.fid == fid) & usable)
        rows = rows[np.argsort(lc.mjd[rows], kind="stable")]  # one index per band, taken once by each array
        nd = lc.nd_fid == fid
        bands[fid] = Band(
            mjd=np.asarray(lc.mjd[rows], dtype=np.float64),
            mag=np.asarray(mag[rows], dtype=np.float64),
            err=np.maximum(np.asarray(err[rows], dtype=np.float64), 1e-3),
            magpsf=np.asarray(lc.magpsf[rows], dtype=np.float64),
            sigmapsf=np.asarray(lc.sigmapsf[rows], dtype=np.float64),
            isdiffpos=np.asarray(lc.isdiffpos[rows], dtype=np.float64),
            mag_corr=np.asarray(lc.magpsf_corr[rows], dtype=np.float64),
            nd_mjd=np.asarray(lc.nd_mjd[nd], dtype=np.float64),
            nd_limit=np.asarray(lc.nd_diffmaglim[nd], dtype=np.float64),
        )
    return bands
