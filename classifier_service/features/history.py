"""Features light_curve lacks: detection history, ALeRCE's SN non-detection features,
colours, structure-function terms and the alert's stamp metadata.

All are cheap per-object numpy reductions returning {name: value}; the names follow
ALeRCE's feature table, and ``groups`` turns each function into a feature group.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from classifier_service.features.bands import Band, ObjectBands
from classifier_service.features.groups import BandFeatures, FeatureGroup, ObjectFeatures
from classifier_service.features.stats import median, sorted_percentile

DETECTION_NAMES: tuple[str, ...] = (
    "n_det", "delta_mjd_fid", "delta_mag_fid", "positive_fraction", "first_mag", "min_mag",
    "mean_mag", "iqr",
)
NON_DETECTION_NAMES: tuple[str, ...] = (
    "n_non_det_before_fd", "n_non_det_after_fd", "max_diffmaglim_before_fd",
    "median_diffmaglim_before_fd", "last_diffmaglim_before_fd", "last_mjd_before_fd",
    "max_diffmaglim_after_fd", "median_diffmaglim_after_fd", "dmag_non_det_fd",
    "dmag_first_det_fd",
)
SF_NAMES: tuple[str, ...] = ("SF_amplitude", "SF_gamma")
DRW_NAMES: tuple[str, ...] = ("DRW_tau", "DRW_sigma")
COLOUR_NAMES: tuple[str, ...] = ("g-r_max", "g-r_mean", "g-r_max_corr", "g-r_mean_corr")
METADATA_NAMES: tuple[str, ...] = ("sgscore1", "distpsnr1", "sgscore2", "distpsnr2", "ps_g-r")

SF_MAX_POINTS = 100  # pairs grow as n²; a regular subsample keeps the cost bounded
SF_LOG_LAG_EDGES = np.log10([2.0, 8.0, 32.0, 128.0, 512.0])  # fixed lag bins (days), no sorting
SF_REFERENCE_LAG = 365.0  # days: SF_amplitude is the structure function at one year
DRW_TAU_GRID = np.logspace(0.0, 3.5, 22)  # days
DRW_SIGMA_GRID = np.logspace(-2.3, 0.2, 16)  # mag, the walk's stationary standard deviation
_DRW_VARIANCE_GRID = DRW_SIGMA_GRID[None, :, None] ** 2


def detection_features(band: Band) -> dict[str, float]:
    """Counts, spans and levels of one band's detections."""
    if band.mjd.size == 0:
        return {"n_det": 0.0, **dict.fromkeys(DETECTION_NAMES[1:], np.nan)}
    ordered = np.sort(band.mag)
    return {
        "n_det": band.mjd.size, "delta_mjd_fid": band.mjd[-1] - band.mjd[0],
        "delta_mag_fid": ordered[-1] - ordered[0], "positive_fraction": np.mean(band.isdiffpos > 0),
        "first_mag": band.mag[0], "min_mag": ordered[0], "mean_mag": band.mag.mean(),
        "iqr": sorted_percentile(ordered, 0.75) - sorted_percentile(ordered, 0.25),
    }


def _subsample(band: Band) -> np.ndarray | slice:
    """At most SF_MAX_POINTS of a band's points, evenly spread (all of them when fewer)."""
    if band.mjd.size <= SF_MAX_POINTS:
        return slice(None)
    return np.unique(np.linspace(0, band.mjd.size - 1, SF_MAX_POINTS).astype(int))


@lru_cache(maxsize=None)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def non_detection_features(band: Band) -> dict[str, float]:
    """ALeRCE's SN non-detection features for one band (limits before/after the first detection)."""
    out = dict.fromkeys(NON_DETECTION_NAMES, np.nan)
    if band.mjd.size == 0:
        return out
    first = band.mjd[0]
    before, after = band.nd_mjd < first, band.nd_mjd > first
    out["n_non_det_before_fd"], out["n_non_det_after_fd"] = np.count_nonzero(before), np.count_nonzero(after)
    if before.any():
        limits = band.nd_limit[before]
        last = np.argmax(band.nd_mjd[before])
        out["max_diffmaglim_before_fd"], out["median_diffmaglim_before_fd"] = limits.max(), median(limits)
        out["last_diffmaglim_before_fd"] = limits[last]
        out["last_mjd_before_fd"] = first - band.nd_mjd[before][last]
        out["dmag_non_det_fd"] = out["median_diffmaglim_before_fd"] - band.magpsf.min()
        out["dmag_first_det_fd"] = out["last_diffmaglim_before_fd"] - band.magpsf[0]
    if after.any():
        out["max_diffmaglim_after_fd"] = band.nd_limit[after].max()
        out["median_diffmaglim_after_fd"] = median(band.nd_limit[after])
    return out


def structure_function(band: Band) -> dict[str, float]:
    """Power-law structure function SF(τ) = A (τ / 1 yr)^γ, noise-corrected, fitted in log space.

    Stochastic variables (AGN, QSO, blazars) have γ ≈ 0.3–0.5; periodic stars flatten out.
    """
    undefined = dict.fromkeys(SF_NAMES, np.nan)
    if band.mjd.size < 6:
        return undefined
    keep = _subsample(band)
    t, m, e = band.mjd[keep], band.mag[keep], band.err[keep]
    i, j = _pairs(t.size)
    lag = t[j] - t[i]
    variance = (m[j] - m[i]) ** 2 - e[i] ** 2 - e[j] ** 2
    usable = lag > 0.5  # drop same-night pairs: they measure noise, not variability
    if np.count_nonzero(usable) < 10:
        return undefined
    log_lag = np.log10(lag[usable])
    which = np.digitize(log_lag, SF_LOG_LAG_EDGES)  # 0 .. SF_LOG_LAG_EDGES.size
    counts = np.bincount(which, minlength=SF_LOG_LAG_EDGES.size + 1)
    mean_var = np.bincount(which, weights=variance[usable], minlength=counts.size) / np.maximum(counts, 1)
    mean_lag = np.bincount(which, weights=log_lag, minlength=counts.size) / np.maximum(counts, 1)
    good = (counts > 0) & (mean_var > 0)
    if np.count_nonzero(good) < 2:
        return {"SF_amplitude": 0.0, "SF_gamma": 0.0}
    x, y = mean_lag[good] - np.log10(SF_REFERENCE_LAG), 0.5 * np.log10(mean_var[good])
    dx = x - x.mean()  # the least-squares line in closed form: np.polyfit's cost is per call
    gamma = float(dx @ (y - y.mean()) / (dx @ dx))
    return {"SF_amplitude": 10.0 ** (y.mean() - gamma * x.mean()), "SF_gamma": gamma}


def damped_random_walk(band: Band) -> dict[str, float]:
    """Damped-random-walk (Ornstein–Uhlenbeck) timescale τ and amplitude σ of one band.

    Maximum likelihood on a (τ, σ) grid, all evaluated at once: each point is predicted
    from the previous one, x_i ~ N(a x_{i-1}, σ²(1 - a²) + e_i² + a² e_{i-1}²) with
    a = exp(-Δt/τ) (measurement errors folded into the transition variance, ALeRCE's GP_DRW
    terms without a Gaussian-process fit). AGN and QSO have τ of months to years.
    """
    if band.mjd.size < 6:
        return dict.fromkeys(DRW_NAMES, np.nan)
    keep = _subsample(band)
    t, x, e = band.mjd[keep], band.mag[keep] - band.mag[keep].mean(), band.err[keep]
    dt = np.maximum(np.diff(t), 1e-3)
    a = np.exp(-dt[None, :] / DRW_TAU_GRID[:, None])[:, None, :]  # (tau, 1, n-1)
    residual, a2 = x[1:] - a * x[:-1], a**2
    variance = _DRW_VARIANCE_GRID * (1 - a2) + e[1:] ** 2 + a2 * e[:-1] ** 2
    loglike = -0.5 * np.sum(np.log(variance) + residual**2 / variance, axis=-1)
    best_tau, best_sigma = np.unravel_index(np.argmax(loglike), loglike.shape)
    return {"DRW_tau": DRW_TAU_GRID[best_tau], "DRW_sigma": DRW_SIGMA_GRID[best_sigma]}


def colour_features(obj: ObjectBands) -> dict[str, float]:
    """g − r at maximum brightness and on average, from difference and from apparent magnitudes."""
    g, r = obj.bands[1], obj.bands[2]
    out = dict.fromkeys(COLOUR_NAMES, np.nan)
    if g.mjd.size == 0 or r.mjd.size == 0:
        return out
    out["g-r_max"], out["g-r_mean"] = g.magpsf.min() - r.magpsf.min(), g.magpsf.mean() - r.magpsf.mean()
    g_corr, r_corr = g.mag_corr[np.isfinite(g.mag_corr)], r.mag_corr[np.isfinite(r.mag_corr)]
    if g_corr.size and r_corr.size:
        out["g-r_max_corr"], out["g-r_mean_corr"] = g_corr.min() - r_corr.min(), g_corr.mean() - r_corr.mean()
    return out


def metadata_features(obj: ObjectBands) -> dict[str, float]:
    """PS1 star/galaxy scores and distances of the nearest sources, and the nearest one's colour."""
    meta = obj.lightcurve.metadata or {}

    def value(key: str) -> float:
        v = meta.get(key)
        try:
            v = float(v)
        except (TypeError, ValueError):
            return np.nan
        return v if np.isfinite(v) and v > -99 else np.nan

    return {
        "sgscore1": value("sgscore1"), "distpsnr1": value("distpsnr1"), "sgscore2": value("sgscore2"),
        "distpsnr2": value("distpsnr2"), "ps_g-r": value("sgmag1") - value("srmag1"),
    }


def groups(fid: int) -> tuple[FeatureGroup, ...]:
    """This module's per-band feature groups for band ``fid``."""
    return (
        BandFeatures(DETECTION_NAMES, detection_features, fid),
        BandFeatures(NON_DETECTION_NAMES, non_detection_features, fid),
        BandFeatures(SF_NAMES, structure_function, fid),
        BandFeatures(DRW_NAMES, damped_random_walk, fid),
    )


OBJECT_GROUPS: tuple[FeatureGroup, ...] = (
    ObjectFeatures(COLOUR_NAMES, colour_features),
    ObjectFeatures(METADATA_NAMES, metadata_features),
)
