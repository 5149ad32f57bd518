"""ALeRCE's supernova parametric model (SPM), fitted by light-curve's Rust Villar fit.

The SPM (Villar et al. 2019 as adapted by Sánchez-Sáez et al. 2021) describes a transient's
flux as a sigmoid rise times a linear plateau decline that turns into an exponential fall:

    F(t) = c + A (1 - β (t - t0)/γ) / (1 + exp(-(t - t0)/τ_rise))             for t < t0 + γ
    F(t) = c + A (1 - β) exp(-(t - t0 - γ)/τ_fall) / (1 + exp(-(t - t0)/τ_rise))  otherwise

light-curve's ``VillarFit`` is this model (β is its ``plateau_rel_amplitude``, c its
baseline), solved by GSL's Levenberg–Marquardt in compiled code: a fraction of a
millisecond per curve whether a batch holds one curve or thousands, where a numpy
iteration pays its array overhead on every step.
"""
from __future__ import annotations

import light_curve as lcf
import numpy as np

from classifier_service.features.bands import Band
from classifier_service.features.groups import BandFeatures, FeatureGroup

ZERO_POINT_UJY = 23.9  # AB magnitude of 1 μJy
_FIT = lcf.VillarFit("lmsder")
# light-curve's names for the fit's outputs -> ALeRCE's SPM names, in the fit's own order.
_NAMES = {
    "villar_fit_amplitude": "SPM_A", "villar_fit_baseline": "SPM_baseline",
    "villar_fit_reference_time": "SPM_t0", "villar_fit_rise_time": "SPM_tau_rise",
    "villar_fit_fall_time": "SPM_tau_fall", "villar_fit_plateau_rel_amplitude": "SPM_beta",
    "villar_fit_plateau_duration": "SPM_gamma", "villar_fit_reduced_chi2": "SPM_chi",
}
SPM_NAMES: tuple[str, ...] = tuple(_NAMES[name] for name in _FIT.names)
MIN_POINTS = 8  # VillarFit needs as many points as it has outputs


def mag_to_flux(mag: np.ndarray, sign: np.ndarray | float = 1.0) -> np.ndarray:
    """Difference magnitude (and subtraction sign) to flux in μJy."""
    return sign * 10.0 ** (-0.4 * (mag - ZERO_POINT_UJY))


def spm_flux(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The model's flux at times ``t`` for one curve's parameters in SPM_NAMES order."""
    return lcf.VillarFit.model(np.asarray(t, dtype=np.float64), np.asarray(values, dtype=np.float64))


def fit_spm(mjd: np.ndarray, flux: np.ndarray, err: np.ndarray) -> np.ndarray:
    """One time-sorted (mjd, flux, flux_err) curve to SPM_NAMES values.

    SPM_t0 counts days from the curve's first point; SPM_chi is the reduced χ². A curve
    with fewer than MIN_POINTS points, no positive flux or a failed fit gives NaN.
    """
    if mjd.size < MIN_POINTS or not np.any(flux > 0) or np.ptp(mjd) <= 0:
        return np.full(len(SPM_NAMES), np.nan)
    values = _FIT(mjd - mjd[0], flux, err, fill_value=np.nan, sorted=True, check=False)
    return np.asarray(values, dtype=np.float64)


def band_flux(band: Band) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One band's difference magnitudes as (mjd, flux, flux_err) in μJy, signed by the subtraction."""
    flux = mag_to_flux(band.magpsf, np.where(band.isdiffpos < 0, -1.0, 1.0))
    return band.mjd, flux, np.abs(flux) * 0.4 * np.log(10.0) * band.sigmapsf


def band_spm(band: Band) -> dict[str, float]:
    """The SPM of one band's flux curve, by name."""
    if band.mjd.size < MIN_POINTS:  # before the flux conversion: most alerts' bands are this short
        return dict.fromkeys(SPM_NAMES, np.nan)
    return dict(zip(SPM_NAMES, fit_spm(*band_flux(band))))


def groups(fid: int) -> tuple[FeatureGroup, ...]:
    return (BandFeatures(SPM_NAMES, band_spm, fid),)
