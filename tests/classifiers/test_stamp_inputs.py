"""The stamp classifier's input definition: cutout geometry, NaNs, metadata and coordinates."""
from __future__ import annotations

import numpy as np
import pytest

from classifier_service.classifiers.stamp_classifier import (
    METADATA_FEATURES,
    METADATA_NAMES,
    STAMP_SIZE,
    CutoutError,
    center_stamp,
    metadata_features,
    metadata_matrix,
    normalize_stamp,
    normalize_stamps,
    prepare_stamps,
)


def _point_source(shape: tuple[int, int], row: int, col: int) -> np.ndarray:
    image = np.zeros(shape, dtype=np.float32)
    image[row, col] = 100.0
    return image


def test_full_cutout_is_cropped_to_its_centre():
    stamp = center_stamp(_point_source((63, 63), 31, 31))
    assert stamp.shape == (STAMP_SIZE, STAMP_SIZE)
    assert stamp[STAMP_SIZE // 2, STAMP_SIZE // 2] == 100.0


@pytest.mark.parametrize("shape", [(48, 63), (43, 63), (51, 63), (63, 55), (10, 7)])
def test_edge_truncated_cutouts_are_padded_to_the_network_size(shape):
    stamp = center_stamp(np.ones(shape, dtype=np.float32))
    assert stamp.shape == (STAMP_SIZE, STAMP_SIZE)
    assert np.isfinite(stamp).any()


def test_a_cutout_that_is_not_an_image_is_rejected():
    with pytest.raises(CutoutError):
        center_stamp(np.ones(63, dtype=np.float32))


def test_normalised_stamp_spans_zero_to_one_with_nans_filled():
    image = np.random.default_rng(0).normal(size=(21, 21)).astype(np.float32)
    image[:5, :] = np.nan
    stamp = normalize_stamp(image)
    assert np.isfinite(stamp).all()
    assert stamp.min() == 0.0 and stamp.max() == 1.0
    assert np.allclose(stamp[:5, :], np.median(stamp[5:, :]))


def test_constant_stamp_normalises_to_zeros_not_nan():
    assert not normalize_stamp(np.full((21, 21), 7.0, dtype=np.float32)).any()


def test_all_nan_stamp_is_a_cutout_error():
    with pytest.raises(CutoutError):
        normalize_stamp(np.full((21, 21), np.nan, dtype=np.float32))


def test_a_stack_of_stamps_normalises_bit_for_bit_as_each_stamp_alone():
    rng = np.random.default_rng(3)
    stamps = (rng.normal(size=(8, 3, 21, 21)) * 10.0 ** rng.uniform(-20, 20, size=(8, 3, 1, 1))).astype(np.float32)
    stamps[1, 0, :5] = np.nan  # filled with the median
    stamps[2, 1] = 7.0  # constant
    stamps[3, 2, 4, 4] = np.inf
    stamps[4, 0, 0, 0] = -np.inf
    expected = np.stack([[normalize_stamp(stamp) for stamp in triple] for triple in stamps])
    assert normalize_stamps(stamps).tobytes() == expected.tobytes()
    stamps[5, 1] = np.nan
    with pytest.raises(CutoutError):
        normalize_stamps(stamps)


def test_prepare_stamps_needs_exactly_three_images():
    images = [np.ones((63, 63), dtype=np.float32)] * 3
    assert prepare_stamps(images).shape == (3, STAMP_SIZE, STAMP_SIZE)
    with pytest.raises(CutoutError):
        prepare_stamps(images[:2])


def test_missing_metadata_becomes_each_features_fill_value():
    fills = np.array([fill for _, fill, _, _ in METADATA_FEATURES], dtype=np.float32)
    assert np.array_equal(metadata_features({}), fills)
    ztf_missing = {name: -999.0 for name in METADATA_NAMES} | {"sgscore2": None, "fwhm": float("nan")}
    assert np.array_equal(metadata_features(ztf_missing), fills)


def test_metadata_is_clipped_and_derived_as_alerce_did():
    features = dict(zip(METADATA_NAMES, metadata_features({
        "sgscore1": 0.98, "distpsnr1": 250.0, "isdiffpos": "f", "ndethist": 9, "ncovhist": 99,
        "ra": 0.0, "dec": 0.0, "magpsf": 30.0,
    })))
    assert features["sgscore1"] == pytest.approx(0.98)
    assert features["distpsnr1"] == 30.0  # clipped to the search radius
    assert features["isdiffpos"] == -1.0
    assert features["magpsf"] == 23.0
    assert features["log_ndethist"] == pytest.approx(np.log1p(9))
    assert features["log_ncov_minus_ndet"] == pytest.approx(np.log1p(90))
    assert features["abs_ecliptic_latitude"] == pytest.approx(0.0, abs=1e-6)


def test_the_network_reads_distances_from_the_ecliptic_and_the_galactic_plane_not_their_sides():
    def latitudes(ra: float, dec: float) -> tuple[float, float]:
        features = dict(zip(METADATA_NAMES, metadata_features({"ra": ra, "dec": dec})))
        return features["abs_ecliptic_latitude"], features["abs_galactic_latitude"]

    north_galactic_pole, south_galactic_pole = latitudes(192.8595, 27.1283), latitudes(12.8595, -27.1283)
    north_ecliptic_pole, south_ecliptic_pole = latitudes(270.0, 66.5607), latitudes(90.0, -66.5607)
    assert north_galactic_pole[1] == pytest.approx(90.0, abs=0.01) and south_galactic_pole[1] == pytest.approx(90.0, abs=0.01)
    assert north_ecliptic_pole[0] == pytest.approx(90.0, abs=0.01) and south_ecliptic_pole[0] == pytest.approx(90.0, abs=0.01)


def test_metadata_of_a_batch_is_each_alerts_metadata_bit_for_bit():
    rng = np.random.default_rng(4)
    alerts = [{"ra": float(ra), "dec": float(dec), "magpsf": 18.0, "isdiffpos": "t", "ndethist": 3}
              for ra, dec in zip(rng.uniform(0, 360, 40), rng.uniform(-90, 90, 40))]
    alerts += [{}, {"ra": 10.0}, {"ra": float("nan"), "dec": 1.0}, {"ra": -999.0, "dec": 2.0, "fwhm": "x"}]
    expected = np.stack([metadata_features(alert) for alert in alerts])
    assert metadata_matrix(alerts).tobytes() == expected.tobytes()
    assert metadata_matrix([]).shape == (0, len(METADATA_NAMES))
