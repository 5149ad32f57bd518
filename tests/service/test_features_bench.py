"""``bench``'s features figure is the cost of the curves the light-curve classifier classifies."""
from __future__ import annotations

import numpy as np

from classifier_service.bench.scenarios import features_bench
from classifier_service.features import MIN_DETECTIONS, FeatureExtractor
from tests.features.test_lc_features import apparent_lightcurve, ztf_like_epochs


def a_curve(rng: np.random.Generator, points: int):
    mjd, fid = ztf_like_epochs(rng, points, 200)
    return apparent_lightcurve(mjd, np.ones(points, np.int8) if points < MIN_DETECTIONS else fid,
                               16 + 0.3 * np.sin(mjd / 3.1) + rng.normal(0, 0.02, points))


def test_features_are_timed_on_classifiable_curves_only():
    """A night's one- and two-detection objects get NaN features for nothing; timing them with
    the rest would report a fraction of what a classified object costs."""
    rng = np.random.default_rng(0)
    short = [a_curve(rng, 2) for _ in range(5)]
    long = [a_curve(rng, points) for points in (40, 60, 80)]

    figures = features_bench(short + long, FeatureExtractor(), repeats=1)

    assert figures["n_objects"] == 3 and figures["median_points"] == 60
    assert figures["batch_s_per_object"] > 0 and figures["single_s_per_object"] > 0


def test_no_classifiable_curve_is_no_figure():
    assert features_bench([a_curve(np.random.default_rng(1), 2)], FeatureExtractor(), repeats=1) is None
