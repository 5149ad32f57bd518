"""ZTF's observing model: when an object is observed, how deep, and how noisy.

Every distribution here is sampled from ``observing_model.json``, the statistics that
``python -m classifier_service.simulate.calibrate`` derived from real alert histories, so
the simulated cadence (g and r most nights, i now and then, 1-3 day revisits, weather
losses, seasonal gaps), limits and errors follow what ZTF delivered rather than guesses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

STATS_PATH = Path(__file__).with_name("observing_model.json")
FLUX_ZP = 23.9  # magnitudes <-> microjansky: flux = 10**(-0.4 * (mag - 23.9))
DETECTION_SNR = 5.0  # diffmaglim is the 5-sigma limit, and ZTF alerts on 5-sigma sources
NIGHT_START, NIGHT_END = 0.13, 0.50  # Palomar night in fractional UTC MJD
YEAR = 365.25
# Residual of subtracting a reference source, as a fraction of its flux (PSF matching and
# misregistration). In the real alerts' 30-day histories (../shared/data) the share of epochs
# with a detection, for sources on a reference star (distnr < 1.5"), is 0.19 at magnr 14-16,
# 0.33 at 16-18 and 0.41 at 18-20: rising towards faint references, the mark of a residual that
# scales with the reference flux. Without it simulated stars were detected on 0.94 / 0.79 / 0.33
# of their epochs; with 0.02, on 0.71 / 0.62 / 0.31 (30-day windows, detected stars only).
SUBTRACTION_RESIDUAL = 0.02
# Quantile tails outside these levels are real but rare outliers (bad nights, saturation).
TAIL = (0.03, 0.995)


def mag_to_flux(mag: np.ndarray | float) -> np.ndarray:
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=float) - FLUX_ZP))


def flux_to_mag(flux: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return FLUX_ZP - 2.5 * np.log10(np.abs(np.asarray(flux, dtype=float)))


@dataclass(frozen=True)
class Observations:
    """Difference photometry at a set of epochs: detections where |flux| clears the limit."""

    mjd: np.ndarray
    fid: np.ndarray
    diffmaglim: np.ndarray
    detected: np.ndarray  # bool
    magpsf: np.ndarray  # NaN where not detected
    sigmapsf: np.ndarray
    isdiffpos: np.ndarray  # +1 / -1
    flux: np.ndarray  # measured difference flux (microjansky), also where not detected
    flux_err: np.ndarray


class ObservingModel:
    """Samplers over the calibrated statistics; one instance is shared (see :func:`default_model`)."""

    def __init__(self, stats: dict[str, Any]):
        self.stats = stats
        self.levels = np.asarray(stats["quantile_levels"])
        gaps = stats["night_gap_days"]
        self.gap_values = np.asarray(gaps["values"], dtype=float)
        self.gap_probability = np.asarray(gaps["probability"]) / np.sum(gaps["probability"])
        filters = stats["night_filters"]
        self.filter_sets = [tuple(int(c) for c in key) for key in filters]
        self.filter_probability = np.asarray(list(filters.values())) / sum(filters.values())
        self.set_bands = [np.asarray(bands, dtype=np.int8) for bands in self.filter_sets]
        self.set_sizes = np.asarray([len(bands) for bands in self.filter_sets])
        table = stats["sigmapsf_vs_depth"]
        self.depth = np.asarray(table["depth"])
        self.log_sigma = np.asarray(table["log10_sigma_median"])
        self.log_sigma_std = np.asarray(table["log10_sigma_std"])

    def sample(self, name: str, rng: np.random.Generator, size: int | tuple[int, ...] | None = None,
               key: str | None = None, between: tuple[float, float] = TAIL) -> np.ndarray:
        """Draw from the inverse CDF of a calibrated quantile table (``stats[name][key]``),
        restricted to the quantile levels ``between``."""
        table = self.stats[name] if key is None else self.stats[name][key]
        u = rng.uniform(*between, size=size)
        return np.interp(u, self.levels, table)

    def limits(self, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """5-sigma difference-image limits per epoch, with each band's own spread."""
        u = rng.uniform(*TAIL, size=fid.shape)
        out = np.empty(fid.shape)
        for band in np.unique(fid):
            chosen = fid == band
            out[chosen] = np.interp(u[chosen], self.levels, self.stats["diffmaglim"][str(int(band))])
        return out

    def epochs(self, rng: np.random.Generator, start_mjd: float, end_mjd: float,
               season_phase: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Visit times and filters between two dates for one sky position.

        Nights follow the real night-to-night gaps (which already include weather losses);
        the object is only visible during its season, which repeats every year.
        """
        season = float(np.interp(rng.uniform(0.5, 1.0), self.levels, self.stats["season_length_days"]))
        phase = rng.uniform(0, YEAR) if season_phase is None else season_phase
        # Enough gaps to cover the span with a wide margin; the surplus is cut below.
        n_gaps = int(1.3 * (end_mjd - start_mjd) / np.dot(self.gap_values, self.gap_probability)) + 10
        gaps = rng.choice(self.gap_values, size=n_gaps, p=self.gap_probability)
        nights = np.floor(start_mjd) + np.cumsum(np.r_[rng.integers(0, 3), gaps[1:]])
        nights = nights[(nights < end_mjd) & (((nights - phase) % YEAR) < season)]
        sets = rng.choice(len(self.filter_sets), size=nights.size, p=self.filter_probability)
        visits = self.set_sizes[sets]
        fid = np.concatenate([self.set_bands[k] for k in sets]) if sets.size else np.empty(0, np.int8)
        # Nights never overlap, so one global sort orders the visits within each night.
        mjd = np.sort(np.repeat(nights, visits) + rng.uniform(NIGHT_START, NIGHT_END, size=int(visits.sum())))
        keep = (mjd >= start_mjd) & (mjd < end_mjd)
        return mjd[keep], fid[keep]

    def sigma_mag(self, depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """PSF-fit magnitude errors for detections ``depth = mag - diffmaglim`` below the limit."""
        median = np.interp(depth, self.depth, self.log_sigma)
        spread = np.interp(depth, self.depth, self.log_sigma_std)
        offset = np.clip(rng.normal(size=np.shape(depth)), -2, 2) * spread * 0.5
        return np.clip(10.0 ** (median + offset), 0.005, 0.4)

    def observe(self, diff_flux: np.ndarray, mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator,
                diffmaglim: np.ndarray | None = None, reference_flux: np.ndarray | float = 0.0) -> Observations:
        """Measure true difference fluxes (microjansky) with ZTF's limits (drawn if not given) and noise.

        ``reference_flux`` is what the reference image holds at the position: subtracting a
        bright star leaves residuals of a fixed fraction of its flux, so a star's small
        variations go undetected however deep the epoch's limit.
        """
        diffmaglim = self.limits(fid, rng) if diffmaglim is None else diffmaglim
        limit_flux = mag_to_flux(diffmaglim)
        depth = flux_to_mag(np.where(diff_flux == 0, 1e-30, diff_flux)) - diffmaglim
        relative = self.sigma_mag(np.minimum(depth, 0.0), rng) / 1.0857
        background = np.hypot(limit_flux / DETECTION_SNR, SUBTRACTION_RESIDUAL * np.asarray(reference_flux))
        sigma_flux = np.maximum(background, relative * np.abs(diff_flux))
        measured = diff_flux + rng.normal(size=diff_flux.shape) * sigma_flux
        detected = np.abs(measured) >= DETECTION_SNR * sigma_flux
        magpsf = np.where(detected, flux_to_mag(measured), np.nan)
        sigmapsf = np.where(detected, 1.0857 * sigma_flux / np.abs(measured), np.nan)
        return Observations(
            mjd=mjd, fid=fid, diffmaglim=diffmaglim, detected=detected, magpsf=magpsf,
            sigmapsf=sigmapsf, isdiffpos=np.where(measured >= 0, 1, -1).astype(np.int8),
            flux=measured, flux_err=sigma_flux,
        )


@lru_cache(maxsize=1)
def default_model() -> ObservingModel:
    """The model calibrated on real ZTF alerts, shipped with the package."""
    return ObservingModel(json.loads(STATS_PATH.read_text()))
