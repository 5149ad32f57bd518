"""Features of a Rubin light curve, on difference fluxes in nJy (as light-curve computes them).

Rubin reports fluxes, and half of a variable star's difference fluxes are negative: features
on fluxes need no magnitude of a negative number. Per band (u g r i z y) a light-curve
extractor over (mjd, flux, error); per object the peak-flux colours of neighbouring bands,
the share of positive detections, the detection baseline and one period (the band with the
most points). Undefined values are NaN.
"""
from __future__ import annotations

from collections.abc import Sequence

import light_curve as lcf
import numpy as np

from alerce_contract.bands import FID_OF_BAND, NJY_ZERO_POINT
from classifier_service.lightcurve.model import LightCurve

FEATURE_VERSION = "lsst-flux-1.0.0"
BANDS = ("u", "g", "r", "i", "z", "y")
BAND_EXTRACTOR = lcf.Extractor(
    lcf.Amplitude(), lcf.InterPercentileRange(0.1), lcf.StandardDeviation(), lcf.Mean(), lcf.BeyondNStd(1.0),
    lcf.Skew(), lcf.Kurtosis(), lcf.StetsonK(), lcf.ReducedChi2(), lcf.LinearFit(), lcf.MaximumSlope(),
    lcf.ExcessVariance(), lcf.ObservationCount(),
)
PERIOD = lcf.Periodogram(peaks=1, max_freq_factor=4.0)
OBJECT_NAMES = ("n_det", "positive_fraction", "baseline_days", "period", "period_s_to_n", "extendedness")
COLOUR_PAIRS = tuple(zip(BANDS[:-1], BANDS[1:]))
NAMES: tuple[str, ...] = (
    *(f"{name}_{band}" for band in BANDS for name in BAND_EXTRACTOR.names),
    *(f"peak_{a}-{b}" for a, b in COLOUR_PAIRS),
    *OBJECT_NAMES,
)


def fluxes(lc: LightCurve) -> tuple[np.ndarray, np.ndarray]:
    """Difference flux and its error in nJy from the light curve's magnitudes and signs."""
    flux = np.asarray(lc.isdiffpos, dtype=float) * 10 ** (-0.4 * (np.asarray(lc.magpsf, dtype=float) - NJY_ZERO_POINT))
    return flux, np.abs(flux) * np.asarray(lc.sigmapsf, dtype=float) / 1.0857


def features(lc: LightCurve) -> np.ndarray:
    """One row of NAMES for one light curve."""
    flux, err = fluxes(lc)
    order = np.argsort(lc.mjd, kind="stable")
    mjd, fid, flux, err = np.asarray(lc.mjd, dtype=float)[order], np.asarray(lc.fid)[order], flux[order], err[order]
    row: list[float] = []
    peaks = {}
    best = None
    for band in BANDS:
        sel = fid == FID_OF_BAND[band]
        t, f, e = mjd[sel], flux[sel], np.maximum(err[sel], 1e-3)
        t, unique = np.unique(t, return_index=True)
        f, e = f[unique], e[unique]
        row += list(BAND_EXTRACTOR(t, f, e, fill_value=np.nan)) if t.size else [np.nan] * len(BAND_EXTRACTOR.names)
        peaks[band] = float(f.max()) if t.size and f.max() > 0 else np.nan
        if t.size >= 8 and (best is None or t.size > best[0].size):
            best = (t, f, e)
    for a, b in COLOUR_PAIRS:
        row.append(-2.5 * np.log10(peaks[a] / peaks[b]) if np.isfinite(peaks[a] + peaks[b]) else np.nan)
    period = list(PERIOD(*best[:2], fill_value=np.nan)) if best is not None else [np.nan, np.nan]
    extendedness = lc.metadata.get("extendedness") if lc.metadata else None
    row += [float(flux.size), float(np.mean(flux > 0)) if flux.size else np.nan,
            float(mjd.max() - mjd.min()) if flux.size else np.nan, *period,
            float(extendedness) if extendedness is not None else np.nan]
    return np.asarray(row, dtype=float)


def feature_matrix(lightcurves: Sequence[LightCurve]) -> np.ndarray:
    """(n, len(NAMES)) features of many light curves."""
    return np.vstack([features(lc) for lc in lightcurves]) if lightcurves else np.empty((0, len(NAMES)))
