"""Bootstrap intervals resampled by object, for metrics over a few real objects.

Real labelled classes hold a handful of objects each, and an object often sends several
alerts: resampling rows would pretend the alerts of one object are independent. Resampling
whole objects (groups) with replacement gives intervals that say how little a few objects
can tell.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 1000


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric on the data as it is, with its 95% bootstrap interval (NaN when undefined)."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return format(self, "")

    def __format__(self, sign: str) -> str:
        """Three decimals; ``format(e, "+")`` signs them, as a difference reads."""
        return f"{self.value:{sign}.3f} [{self.low:{sign}.3f}, {self.high:{sign}.3f}]"


def group_indices(groups: Sequence) -> list[np.ndarray]:
    """Row indices of each group (object), in order of first appearance."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)


def grouped_bootstrap(statistic: Callable[[np.ndarray], float], groups: Sequence, *,
                      n_resamples: int = N_RESAMPLES, seed: int = 0) -> Estimate:
    """``statistic(rows)`` on all rows and its 2.5-97.5 percentile interval over resamples of groups.

    Resamples where the statistic is undefined (NaN, e.g. a class drawn zero times) are left
    out of the interval rather than counted as zero.
    """
    members = group_indices(groups)
    value = float(statistic(np.concatenate(members)))
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for i in range(n_resamples):
        chosen = rng.integers(0, len(members), len(members))
        draws[i] = statistic(np.concatenate([members[j] for j in chosen]))
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return Estimate(value, float("nan"), float("nan"))
    low, high = np.percentile(draws, [2.5, 97.5])
    return Estimate(value, float(low), float(high))


def recall(y_true: np.ndarray, y_pred: np.ndarray, label) -> float:
    """Recall of one class; NaN when the class has no true rows."""
    mask = y_true == label
    return float((y_pred[mask] == label).mean()) if mask.any() else float("nan")


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``."""
    return float(np.mean([recall(y_true, y_pred, c) for c in np.unique(y_true)]))
