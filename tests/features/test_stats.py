"""The scalar order statistics give numpy's values exactly, so replacing np.percentile and
np.median by them changes no feature."""
from __future__ import annotations

import numpy as np
import pytest

from classifier_service.features.stats import median, sorted_percentile


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 10, 51, 200])
def test_percentiles_and_medians_equal_numpys_bit_for_bit(size):
    rng = np.random.default_rng(size)
    for _ in range(50):
        values = rng.normal(18, 2, size)
        ordered = np.sort(values)
        for q in (0.05, 0.25, 0.5, 0.75, 0.95):
            assert sorted_percentile(ordered, q) == np.percentile(values, 100 * q)
        assert median(values) == np.median(values)


def test_a_median_with_nan_is_nan_as_numpys_is():
    assert np.isnan(median(np.array([19.0, np.nan, 20.0])))
