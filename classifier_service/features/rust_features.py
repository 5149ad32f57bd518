"""Features the Rust-backed ``light_curve`` package computes, evaluated in batch.

Per band: ALeRCE's variability statistics. Across bands: one multiband Lomb–Scargle
periodogram. Its frequency grid dominates the cost, so it is sized to each object's
baseline: frequencies up to ``MAX_FREQUENCY`` (periods down to ~1.6 h, short enough for
δ Scuti stars) at ``OVERSAMPLING`` points per 1/T, on the FFT-friendly grids the fast
periodogram needs (2**k + 1 points), grouped so each grid is built once per batch.
Baselines longer than the largest grid resolves are cut to their most recent part.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import light_curve as lcf
import numpy as np

from classifier_service.features.bands import BANDS, Band

MAX_FREQUENCY = 15.0  # cycles per day
OVERSAMPLING = 1.5
GRID_EXPONENTS = range(10, 14)  # 1,025 to 8,193 frequencies
MIN_PERIODOGRAM_POINTS = 3  # per band, below which a band is left out of the periodogram


def _band_extractor() -> lcf.Extractor:
    return lcf.Extractor(
        lcf.Amplitude(), lcf.BeyondNStd(1.0), lcf.Cusum(), lcf.Eta(), lcf.EtaE(),
        lcf.ExcessVariance(), lcf.InterPercentileRange(0.1), lcf.Kurtosis(), lcf.LinearFit(),
        lcf.LinearTrend(), lcf.MagnitudePercentageRatio(0.4, 0.05), lcf.MaximumSlope(),
        lcf.Mean(), lcf.Median(), lcf.MedianAbsoluteDeviation(), lcf.PercentAmplitude(),
        lcf.ReducedChi2(), lcf.Skew(), lcf.StandardDeviation(), lcf.StetsonK(),
    )


BAND_EXTRACTOR = _band_extractor()
BAND_FEATURE_NAMES: tuple[str, ...] = tuple(BAND_EXTRACTOR.names)
PERIOD_FEATURE_NAMES: tuple[str, ...] = ("Multiband_period", "Period_s_to_n", "Period_fit")
REFINE_POINTS = 21


def band_statistics(bands: Sequence[Band], n_jobs: int = 1) -> np.ndarray:
    """(n, len(BAND_FEATURE_NAMES)) statistics of one band of many objects; NaN where too short."""
    out = np.full((len(bands), len(BAND_FEATURE_NAMES)), np.nan)
    usable = [i for i, b in enumerate(bands) if b.mjd.size >= 2 and np.ptp(b.mjd) > 0]
    if usable:
        curves = [(bands[i].mjd, bands[i].mag, bands[i].err) for i in usable]
        out[usable] = BAND_EXTRACTOR.many(curves, fill_value=np.nan, sorted=True, check=False, n_jobs=n_jobs)
    return out


@lru_cache(maxsize=None)
def _periodogram(exponent: int, multiband: bool) -> lcf.Periodogram:
    freqs = np.linspace(0.0, 2 * np.pi * MAX_FREQUENCY, 2**exponent + 1)
    bands = list(BANDS.values()) if multiband else None
    return lcf.Periodogram(peaks=1, freqs=freqs, fast=True, bands=bands)


def grid_exponent(baseline_days: float) -> int:
    """Smallest 2**k grid that samples 1/T with OVERSAMPLING points, within GRID_EXPONENTS."""
    needed = MAX_FREQUENCY * OVERSAMPLING * max(baseline_days, 1.0)
    return int(np.clip(np.ceil(np.log2(needed)), GRID_EXPONENTS[0], GRID_EXPONENTS[-1]))


def _longest_baseline() -> float:
    return 2 ** GRID_EXPONENTS[-1] / (MAX_FREQUENCY * OVERSAMPLING)


def _periodogram_input(bands: dict[int, Band]) -> tuple[tuple, bool] | None:
    """(t, m, sigma[, band]) for the periodogram, and whether it is multiband."""
    used = [(fid, b) for fid, b in bands.items() if b.mjd.size >= MIN_PERIODOGRAM_POINTS]
    if not used:
        return None
    t = np.concatenate([b.mjd for _, b in used])
    m = np.concatenate([b.mag - np.median(b.mag) for _, b in used])
    s = np.concatenate([b.err for _, b in used])
    labels = np.concatenate([np.full(b.mjd.size, BANDS[fid]) for fid, b in used])
    recent = t >= t.max() - _longest_baseline()
    order = np.argsort(t[recent], kind="stable")
    t, m, s, labels = t[recent][order], m[recent][order], s[recent][order], labels[recent][order]
    if np.ptp(t) <= 0 or t.size < 2 * MIN_PERIODOGRAM_POINTS:
        return None
    multiband = len(set(labels.tolist())) == len(BANDS)
    return ((t, m, s, labels) if multiband else (t, m, s)), multiband


def multiband_period(objects: Sequence[dict[int, Band]], n_jobs: int = 1) -> np.ndarray:
    """(n, 3): best period (days), its peak significance, and the fraction of variance it explains.

    One periodogram over g and r together (each band centred on its own median), so a star
    with few points per band still gets a period from both.
    """
    out = np.full((len(objects), len(PERIOD_FEATURE_NAMES)), np.nan)
    groups: dict[tuple[int, bool], list[tuple[int, tuple]]] = {}
    for i, bands in enumerate(objects):
        prepared = _periodogram_input(bands)
        if prepared is None:
            continue
        curve, multiband = prepared
        groups.setdefault((grid_exponent(float(np.ptp(curve[0]))), multiband), []).append((i, curve))
    for (exponent, multiband), members in groups.items():
        index = [i for i, _ in members]
        curves = [c for _, c in members]
        peaks = _periodogram(exponent, multiband).many(
            curves, fill_value=np.nan, sorted=True, check=False, n_jobs=n_jobs)
        step = MAX_FREQUENCY / 2**exponent
        for row, curve, (period, significance) in zip(index, curves, peaks[:, :2]):
            refined, r_squared = refine_period(curve[0], curve[1], period, step)
            out[row] = (refined, significance, r_squared)
    return out


def refine_period(t: np.ndarray, m: np.ndarray, period: float, step: float) -> tuple[float, float]:
    """(period, R²) of the best two-harmonic fit within one coarse grid step of ``period``.

    The coarse grid is what keeps the periodogram cheap; this local search, all candidate
    frequencies solved at once, restores the precision long periods lose on it. R² says how
    much of the variance the periodic model explains.
    """
    if not np.isfinite(period) or period <= 0:
        return np.nan, np.nan
    freqs = np.clip(1.0 / period + np.linspace(-step, step, REFINE_POINTS), step / 2, None)
    phase = 2 * np.pi * freqs[:, None] * (t - t[0])[None, :]
    design = np.stack([np.ones_like(phase), np.sin(phase), np.cos(phase),
                       np.sin(2 * phase), np.cos(2 * phase)], axis=-1)
    normal = np.einsum("fni,fnj->fij", design, design) + 1e-9 * np.eye(5)
    projection = np.einsum("fni,n->fi", design, m)
    coef = np.linalg.solve(normal, projection[..., None])[..., 0]
    explained = np.einsum("fi,fi->f", coef, projection)
    best = int(np.argmax(explained))
    total = np.sum(m**2)  # bands are centred, so this is the variance about the model's baseline
    return 1.0 / freqs[best], float(1.0 - (total - explained[best]) / total) if total > 0 else np.nan
