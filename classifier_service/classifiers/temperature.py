"""Temperature scaling of class probabilities, applied by the classifiers at inference.

The temperatures are fitted at training time on real out-of-fold predictions
(:mod:`classifier_service.train.calibration`); this is the one formula both sides use.
"""
from __future__ import annotations

import numpy as np

EPSILON = 1e-6  # floor of a probability before its logarithm: forests answer exact zeros


def scale_probabilities(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """p_i -> p_i^(1/T) / sum_j p_j^(1/T) per row: T > 1 softens, T < 1 sharpens, argmax unchanged."""
    p = np.asarray(probabilities, dtype=float)
    if temperature == 1.0:
        return p
    return softmax(np.log(np.maximum(p, EPSILON)) / temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum so no exponential overflows."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
