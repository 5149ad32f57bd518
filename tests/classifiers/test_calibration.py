"""Calibration on real out-of-fold predictions: reliability, ECE and temperature scaling."""
from __future__ import annotations

import numpy as np
import pytest

from classifier_service.train.calibration import (
    TemperatureScaling,
    expected_calibration_error,
    reliability,
    save_reliability_png,
)


def _overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes; the model says 0.95 for its top class but is right 60% of the time."""
    rng = np.random.default_rng(seed)
    top = rng.integers(0, 3, n)
    y = np.where(rng.random(n) < 0.6, top, (top + rng.integers(1, 3, n)) % 3)
    p = np.full((n, 3), 0.025)
    p[np.arange(n), top] = 0.95
    return p, y


def test_a_model_right_as_often_as_it_says_has_no_calibration_error():
    p = np.array([[0.8, 0.2]] * 10)
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(p, y) == pytest.approx(0.0)


def test_an_overconfident_model_has_the_gap_between_confidence_and_accuracy_as_its_error():
    p, y = _overconfident()
    curve = reliability(p, y)
    assert curve.ece == pytest.approx(0.95 - (curve.accuracy[curve.counts > 0][0]), abs=1e-9)
    assert curve.counts.sum() == len(y)
    assert 0.3 < curve.ece < 0.4


def test_temperature_scaling_softens_an_overconfident_model_without_changing_its_answers():
    p, y = _overconfident()
    calibrator = TemperatureScaling.fit(p, y)
    assert calibrator.temperature > 1
    calibrated = calibrator.apply(p)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert (calibrated.argmax(axis=1) == p.argmax(axis=1)).all()
    assert expected_calibration_error(calibrated, y) < 0.05 < expected_calibration_error(p, y)


def test_with_no_rows_the_calibrator_is_the_identity():
    calibrator = TemperatureScaling.fit(np.zeros((0, 3)), np.zeros(0, dtype=int))
    assert calibrator.temperature == 1.0
    p = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_array_equal(calibrator.apply(p), p)


def test_probabilities_and_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="2 probability rows but 3 labels"):
        reliability(np.array([[0.5, 0.5]] * 2), np.array([0, 1, 1]))


def test_the_reliability_diagram_is_written_as_a_png(tmp_path):
    p, y = _overconfident(200)
    path = save_reliability_png({"raw": reliability(p, y),
                                 "calibrated": reliability(TemperatureScaling.fit(p, y).apply(p), y)},
                                tmp_path / "reliability.png", "test")
    assert path.read_bytes()[:4] == b"\x89PNG"
