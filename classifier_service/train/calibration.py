"""Probability calibration on real data: reliability, expected calibration error, temperature scaling.

A forest (or a CNN) trained mostly on simulated data is confident in the simulator's terms;
on real objects its top probability says less than it claims. The honest check is a
reliability diagram of real *out-of-fold* predictions (objects the model did not train on),
and the fix fitted on those same predictions must have very few parameters, because real
labelled classes hold a handful of objects: one temperature per output (Guo et al. 2017,
"On Calibration of Modern Neural Networks"), which keeps the ranking of the classes and so
never changes a prediction, only how sure it says it is.

API (used by both classifiers' training):

- ``reliability(probabilities, y_true)`` -> :class:`Reliability` (bins, accuracy, ECE)
- ``expected_calibration_error(probabilities, y_true)`` -> float
- ``TemperatureScaling.fit(probabilities, y_true)`` -> calibrator; ``.apply(probabilities)``
- ``save_reliability_png({"before": r1, "after": r2}, path, title)``

``probabilities`` is (n, k), rows summing to one; ``y_true`` holds column indices (n,).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier_service.classifiers.temperature import EPSILON, scale_probabilities

N_BINS = 10
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))  # grid: no optimiser to fail


@dataclass(frozen=True, slots=True)
class Reliability:
    """Top-label reliability: per confidence bin, how often the top class was right."""

    edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # (n_bins,) mean top probability per bin (NaN where empty)
    accuracy: np.ndarray  # (n_bins,) fraction correct per bin (NaN where empty)
    counts: np.ndarray  # (n_bins,) rows per bin
    ece: float  # sum over bins of |accuracy - confidence| weighted by the bin's share of rows


def reliability(probabilities: np.ndarray, y_true: np.ndarray, n_bins: int = N_BINS) -> Reliability:
    """Bin the rows by their top probability and compare it with how often the top class is right."""
    p = _as_probabilities(probabilities)
    y = np.asarray(y_true, dtype=int)
    if len(y) != len(p):
        raise ValueError(f"{len(p)} probability rows but {len(y)} labels")
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(index, confidence, n_bins) / counts
        accuracy = np.bincount(index, correct, n_bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] * np.abs(accuracy[filled] - mean_confidence[filled])) / max(len(y), 1))
    return Reliability(edges, mean_confidence, accuracy, counts, ece)


def expected_calibration_error(probabilities: np.ndarray, y_true: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE of the top label: 0 when the stated confidence matches the accuracy in every bin."""
    return reliability(probabilities, y_true, n_bins).ece


def log_loss(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """Mean negative log-probability of the true class (floored at EPSILON)."""
    p = _as_probabilities(probabilities)
    y = np.asarray(y_true, dtype=int)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], EPSILON))))


@dataclass(frozen=True, slots=True)
class TemperatureScaling:
    """p_i -> p_i^(1/T) / sum_j p_j^(1/T): T > 1 softens over-confident outputs, T < 1 sharpens.

    One parameter per output, so a few dozen real objects suffice to fit it; the argmax,
    and so every predicted class, is unchanged.
    """

    temperature: float = 1.0

    @classmethod
    def fit(cls, probabilities: np.ndarray, y_true: np.ndarray) -> TemperatureScaling:
        """The temperature of least log loss on (out-of-fold) rows, searched on a fixed grid.

        With no rows, the identity (T = 1).
        """
        y = np.asarray(y_true, dtype=int)
        if not len(y):
            return cls(1.0)
        losses = [log_loss(cls(float(t)).apply(probabilities), y) for t in TEMPERATURES]
        return cls(float(TEMPERATURES[int(np.argmin(losses))]))

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        return scale_probabilities(_as_probabilities(probabilities), self.temperature)


def _as_probabilities(probabilities: np.ndarray) -> np.ndarray:
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (n, k), got shape {p.shape}")
    return p


def save_reliability_png(curves: Mapping[str, Reliability], path: Path, title: str) -> Path:
    """Reliability diagram: accuracy against confidence per bin, one line per curve, ECE in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for label, curve in curves.items():
        filled = curve.counts > 0
        ax.plot(curve.confidence[filled], curve.accuracy[filled], marker="o",
                label=f"{label} (ECE {curve.ece:.3f}, n={int(curve.counts.sum())})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("stated confidence (top probability)")
    ax.set_ylabel("fraction correct")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)
