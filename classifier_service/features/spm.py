"""ALeRCE's supernova parametric model (SPM), fitted to many light curves at once.

The SPM (Villar et al. 2019 as adapted by Sánchez-Sáez et al. 2021) describes a transient's
flux as a sigmoid rise times a linear plateau decline that turns into an exponential fall:

    F(t) = A (1 - β (t - t0)/γ) / (1 + exp(-(t - t0)/τ_rise))             for t < t0 + γ
    F(t) = A (1 - β) exp(-(t - t0 - γ)/τ_fall) / (1 + exp(-(t - t0)/τ_rise))  otherwise

Instead of one optimiser call per curve, every curve of a batch is padded into one array
and fitted together by a bounded Levenberg–Marquardt iteration with per-curve damping, so
the cost is a few dozen vectorised array passes for the whole batch.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPM_NAMES: tuple[str, ...] = (
    "SPM_A", "SPM_t0", "SPM_gamma", "SPM_beta", "SPM_tau_rise", "SPM_tau_fall", "SPM_chi",
)
MIN_POINTS = 4
ZERO_POINT_UJY = 23.9  # AB magnitude of 1 μJy
# Bounds in fit units: amplitude relative to the brightest point, times in days from the
# first detection.
LOWER = np.array([0.05, -50.0, 1.0, 0.0, 1.0, 1.0])
UPPER = np.array([20.0, 50.0, 120.0, 1.0, 50.0, 300.0])
ITERATIONS = 30
CHUNK = 64  # curves fitted together; chunks of similar length waste little padding


def mag_to_flux(mag: np.ndarray, sign: np.ndarray | float = 1.0) -> np.ndarray:
    """Difference magnitude (and subtraction sign) to flux in μJy."""
    return sign * 10.0 ** (-0.4 * (mag - ZERO_POINT_UJY))


def spm_flux(t: np.ndarray, params: np.ndarray) -> np.ndarray:
    """SPM flux at times ``t`` (n, L) for parameters (n, 6)."""
    amplitude, t0, gamma, beta, tau_rise, tau_fall = (params[:, i, None] for i in range(6))
    dt = t - t0
    rise = 1.0 / (1.0 + np.exp(np.clip(-dt / tau_rise, -50, 50)))
    plateau = 1.0 - beta * dt / gamma
    fall = (1.0 - beta) * np.exp(np.clip(-(dt - gamma) / tau_fall, -50, 50))
    return amplitude * np.where(dt < gamma, plateau, fall) * rise


def _pad(curves: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    length = max(c[0].size for c in curves)
    t = np.zeros((len(curves), length))
    y = np.zeros_like(t)
    w = np.zeros_like(t)  # 1/sigma, 0 on padding
    for i, (ti, yi, ei) in enumerate(curves):
        t[i, :ti.size], y[i, :ti.size], w[i, :ti.size] = ti, yi, 1.0 / ei
    return t, y, w


def _initial_guess(t: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    peak = np.argmax(np.where(w > 0, y, -np.inf), axis=1)
    t_peak = t[np.arange(t.shape[0]), peak]
    guess = np.column_stack([
        np.full(t.shape[0], 1.2), t_peak - 5.0, np.full(t.shape[0], 15.0),
        np.full(t.shape[0], 0.5), np.full(t.shape[0], 4.0), np.full(t.shape[0], 30.0),
    ])
    return np.clip(guess, LOWER, UPPER)


def fit_spm_batch(curves: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Fit the SPM to many (mjd, flux, flux_err) curves; (n, 7) in SPM_NAMES order.

    SPM_A is in the curve's flux units, SPM_t0 in days after its first point, SPM_chi the
    reduced χ². Curves with fewer than MIN_POINTS points or no positive flux get NaN.
    """
    result = np.full((len(curves), len(SPM_NAMES)), np.nan)
    usable = [i for i, c in enumerate(curves) if c[0].size >= MIN_POINTS and np.max(c[1]) > 0]
    usable.sort(key=lambda i: curves[i][0].size)
    for start in range(0, len(usable), CHUNK):
        chunk = usable[start:start + CHUNK]
        result[chunk] = _fit_chunk([curves[i] for i in chunk])
    return result


def _fit_chunk(curves: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """One padded LM fit of curves of similar length (fit units: flux / max flux, days from first point)."""
    result = np.empty((len(curves), len(SPM_NAMES)))
    scale = np.array([np.max(flux) for _, flux, _ in curves])
    t, y, w = _pad([(mjd - mjd[0], flux / s, err / s) for (mjd, flux, err), s in zip(curves, scale)])
    params = _initial_guess(t, y, w)
    damping = np.full(len(curves), 1e-2)

    def cost(p: np.ndarray) -> np.ndarray:
        return np.sum(((spm_flux(t, p) - y) * w) ** 2, axis=1)

    current = cost(params)
    for _ in range(ITERATIONS):
        residual = (spm_flux(t, params) - y) * w
        steps = 1e-6 * (1.0 + np.abs(params))
        jacobian = np.empty(t.shape + (6,))
        for j in range(6):
            shifted = params.copy()
            shifted[:, j] += steps[:, j]
            jacobian[..., j] = ((spm_flux(t, shifted) - y) * w - residual) / steps[:, j, None]
        jtj = np.matmul(jacobian.transpose(0, 2, 1), jacobian)
        gradient = np.matmul(jacobian.transpose(0, 2, 1), residual[..., None])[..., 0]
        diagonal = np.diagonal(jtj, axis1=1, axis2=2)
        system = jtj + (damping[:, None] * diagonal + 1e-9)[:, :, None] * np.eye(6)
        step = np.linalg.solve(system, -gradient[..., None])[..., 0]
        candidate = np.clip(params + step, LOWER, UPPER)
        trial = cost(candidate)
        better = trial < current
        params[better], current[better] = candidate[better], trial[better]
        damping = np.where(better, damping / 3.0, np.minimum(damping * 4.0, 1e8))

    n_points = (w > 0).sum(axis=1)
    result[:, :6] = params
    result[:, 0] *= scale
    result[:, 6] = current / np.maximum(n_points - 6, 1)
    return result
