"""The light-curve features: known curves give known answers, odd curves give NaN, not errors."""
from __future__ import annotations

import numpy as np
import pytest

from classifier_service.features import FEATURE_KEYS, FeatureExtractor, is_classifiable
from classifier_service.features.bands import split_bands
from classifier_service.features.extractor import FEATURE_GROUPS
from classifier_service.features.groups import BandFeatures
from classifier_service.features.history import damped_random_walk, non_detection_features, structure_function
from classifier_service.features.spm import SPM_NAMES, band_flux, fit_spm, spm_flux
from classifier_service.lightcurve import build_lightcurve
from classifier_service.lightcurve.model import LightCurve


def apparent_lightcurve(mjd, fid, mag, err=0.02, nd=None, metadata=None) -> LightCurve:
    """A corrected (apparent-magnitude) light curve, as a variable star's would be."""
    n = mjd.size
    sigma = np.full(n, err)
    nd_mjd, nd_fid, nd_lim = nd if nd is not None else (np.empty(0), np.empty(0, np.int8), np.empty(0))
    return LightCurve(
        oid="test", mjd=mjd, fid=fid.astype(np.int8), magpsf=mag + 2.0, sigmapsf=sigma,
        isdiffpos=np.ones(n, np.int8), magpsf_corr=mag, sigmapsf_corr=sigma, sigmapsf_corr_ext=sigma,
        corrected=np.ones(n, bool), dubious=np.zeros(n, bool), nd_mjd=nd_mjd, nd_fid=nd_fid,
        nd_diffmaglim=nd_lim, metadata=metadata or {},
    )


def ztf_like_epochs(rng, n, baseline):
    """Nightly-ish sampling with g and r alternating, as ZTF observes."""
    nights = np.sort(rng.choice(np.arange(int(baseline)), size=n, replace=False)).astype(float)
    mjd = 58500.0 + nights + rng.uniform(0.1, 0.3, n)
    fid = np.where(rng.random(n) < 0.5, 1, 2)
    return mjd, fid


@pytest.mark.parametrize("period", [0.37, 5.3, 47.0])
def test_multiband_periodogram_recovers_a_sine_period(period):
    rng = np.random.default_rng(1)
    mjd, fid = ztf_like_epochs(rng, 120, 300)
    offset = np.where(fid == 1, 0.3, 0.0)  # g and r differ in mean: each band is centred
    mag = 16 + offset + 0.4 * np.sin(2 * np.pi * mjd / period) + rng.normal(0, 0.02, mjd.size)
    extractor = FeatureExtractor()
    names, x = extractor.compute([apparent_lightcurve(mjd, fid, mag)])
    found = x[0, names.index("Multiband_period")]
    assert found == pytest.approx(period, rel=0.01)
    assert x[0, names.index("Period_fit")] > 0.85  # repeating: a smooth trend explains almost none of it


def test_spm_fit_recovers_known_parameters():
    rng = np.random.default_rng(2)
    truth = dict(SPM_A=1000.0, SPM_baseline=0.0, SPM_t0=12.0, SPM_tau_rise=3.0, SPM_tau_fall=25.0,
                 SPM_beta=0.3, SPM_gamma=20.0, SPM_chi=1.0)
    days = np.sort(rng.uniform(0, 120, 60))
    flux = spm_flux(days, np.array([truth[name] for name in SPM_NAMES])) + rng.normal(0, 15.0, days.size)
    values = dict(zip(SPM_NAMES, fit_spm(58000.0 + days, flux, np.full(days.size, 15.0))))
    assert values["SPM_t0"] + days[0] == pytest.approx(12.0, abs=2.0)  # SPM_t0 counts from the first point
    assert values["SPM_A"] == pytest.approx(1000.0, rel=0.15)
    assert values["SPM_tau_fall"] == pytest.approx(25.0, rel=0.3)
    assert values["SPM_chi"] < 2.0


def test_spm_fits_a_simulated_supernova_well():
    from classifier_service.simulate.lightcurves import simulate_lightcurve

    rng = np.random.default_rng(3)
    sim = simulate_lightcurve("SNIa", rng, min_detections=12)
    lc = build_lightcurve("sn", sim.detections("sn"), sim.non_detections("sn"), sim.metadata)
    band = max(split_bands(lc).values(), key=lambda b: b.mjd.size)
    values = dict(zip(SPM_NAMES, fit_spm(*band_flux(band))))
    assert values["SPM_A"] > 0
    assert values["SPM_chi"] < 5.0


def test_spm_leaves_too_short_curves_undefined():
    assert np.isnan(fit_spm(np.arange(3.0), np.ones(3), np.ones(3))).all()


def test_only_objects_with_six_detections_in_g_or_r_are_classifiable():
    mjd = np.arange(10.0)
    five_and_five = apparent_lightcurve(mjd, np.array([1, 2] * 5), np.full(10, 16.0))
    six_in_r = apparent_lightcurve(mjd[:7], np.array([2] * 6 + [1]), np.full(7, 16.0))
    assert not is_classifiable(five_and_five)
    assert is_classifiable(six_in_r)


def test_a_corrected_star_is_read_in_apparent_magnitudes_without_its_undefined_ones():
    """A Mira near minimum is fainter than its reference by more than its flux: those detections
    have no apparent magnitude, and the rest of the star is still read in apparent magnitudes."""
    mjd = np.arange(8.0)
    lc = apparent_lightcurve(mjd, np.ones(8, int), np.linspace(15.0, 18.5, 8))
    lc.magpsf_corr[[3, 6]] = np.nan
    band = split_bands(lc)[1]
    assert band.mjd.tolist() == [0.0, 1.0, 2.0, 4.0, 5.0, 7.0]
    assert band.mag.tolist() == lc.magpsf_corr[[0, 1, 2, 4, 5, 7]].tolist()


def test_non_detection_features_describe_limits_before_the_first_detection():
    mjd = np.array([100.0, 101.0, 102.0])
    lc = apparent_lightcurve(mjd, np.ones(3, int), np.array([18.0, 17.5, 17.8]))
    lc.nd_mjd, lc.nd_fid = np.array([90.0, 95.0, 99.0, 105.0]), np.ones(4, np.int8)
    lc.nd_diffmaglim = np.array([20.0, 20.5, 19.5, 20.2])
    values = non_detection_features(split_bands(lc)[1])
    assert {name: values[name] for name in ("n_non_det_before_fd", "n_non_det_after_fd", "max_diffmaglim_before_fd",
                                            "median_diffmaglim_before_fd", "last_diffmaglim_before_fd",
                                            "last_mjd_before_fd")} == {
        "n_non_det_before_fd": 3, "n_non_det_after_fd": 1, "max_diffmaglim_before_fd": 20.5,
        "median_diffmaglim_before_fd": 20.0, "last_diffmaglim_before_fd": 19.5, "last_mjd_before_fd": 1.0}


def test_structure_function_of_a_random_walk_rises_with_lag():
    rng = np.random.default_rng(4)
    mjd, fid = ztf_like_epochs(rng, 200, 600)
    mag = 18 + np.cumsum(rng.normal(0, 0.05, mjd.size))
    band = split_bands(apparent_lightcurve(mjd, np.ones(mjd.size, int), mag))[1]
    values = structure_function(band)
    assert values["SF_amplitude"] > 0
    assert values["SF_gamma"] > 0.2


def test_batch_returns_one_named_row_per_object_even_for_odd_curves():
    rng = np.random.default_rng(5)
    mjd, fid = ztf_like_epochs(rng, 40, 100)
    normal = apparent_lightcurve(mjd, fid, 17 + rng.normal(0, 0.1, 40), metadata={"sgscore1": 0.9})
    only_g = apparent_lightcurve(mjd[:8], np.ones(8, int), np.full(8, 17.0))
    names, x = FeatureExtractor().compute([normal, only_g])
    assert x.shape == (2, len(FEATURE_KEYS)) and len(names) == len(FEATURE_KEYS)
    assert np.isnan(x[1, names.index("mean_2")])  # no r band: undefined, not an error
    assert x[0, names.index("sgscore1")] == 0.9
    assert np.isnan(x[1, names.index("sgscore1")])
    assert not np.isinf(x).any()


def test_repeated_epochs_constant_and_missing_magnitudes_give_nan_not_errors():
    repeated_constant = apparent_lightcurve(np.repeat(np.arange(6.0), 2), np.ones(12, int), np.full(12, 17.0))
    with_nans = apparent_lightcurve(np.arange(12.0), np.array([1, 2] * 6),
                                    np.where(np.arange(12) % 3 == 0, np.nan, 17.0 + 0.1 * np.arange(12)))
    same_epoch_both_bands = apparent_lightcurve(np.repeat(np.arange(8.0), 2), np.array([1, 2] * 8),
                                                17 + np.random.default_rng(6).normal(0, 0.1, 16))
    _, x = FeatureExtractor().compute([repeated_constant, with_nans, same_epoch_both_bands])
    assert x.shape[0] == 3 and not np.isinf(x).any()


def test_damped_random_walk_timescale_and_amplitude_are_recovered():
    rng = np.random.default_rng(7)
    tau, sigma = 100.0, 0.2
    mjd, _ = ztf_like_epochs(rng, 150, 1200)
    x = np.empty(mjd.size)
    x[0] = rng.normal(0, sigma)
    for i in range(1, mjd.size):  # exact Ornstein–Uhlenbeck transitions
        a = np.exp(-(mjd[i] - mjd[i - 1]) / tau)
        x[i] = a * x[i - 1] + rng.normal(0, sigma * np.sqrt(1 - a * a))
    mag = 18 + x + rng.normal(0, 0.02, mjd.size)
    band = split_bands(apparent_lightcurve(mjd, np.ones(mjd.size, int), mag))[1]
    found = damped_random_walk(band)
    found_tau, found_sigma = found["DRW_tau"], found["DRW_sigma"]
    assert tau / 2.5 < found_tau < tau * 2.5
    assert sigma / 1.6 < found_sigma < sigma * 1.6


def test_every_group_names_exactly_the_values_it_returns():
    rng = np.random.default_rng(8)
    mjd, fid = ztf_like_epochs(rng, 60, 200)
    lc = apparent_lightcurve(mjd, fid, 17 + rng.normal(0, 0.1, mjd.size), metadata={"sgscore1": 0.5})
    extractor = FeatureExtractor()
    names, x = extractor.compute([lc])
    assert len(set(names)) == len(names) == x.shape[1]
    reordered = FeatureExtractor(FEATURE_GROUPS[::-1])
    shuffled_names, shuffled = reordered.compute([lc])
    assert dict(zip(shuffled_names, shuffled[0].tolist())) == pytest.approx(dict(zip(names, x[0].tolist())),
                                                                             nan_ok=True)


def test_a_group_whose_function_drops_or_renames_a_feature_is_an_error():
    lc = apparent_lightcurve(np.arange(8.0), np.ones(8, int), np.full(8, 17.0))
    renamed = BandFeatures(("n_det", "other"), lambda band: {"n_det": 1.0, "renamed": 2.0}, fid=1)
    short = BandFeatures(("n_det", "other"), lambda band: {"n_det": 1.0}, fid=1)
    for group in (renamed, short):
        with pytest.raises((KeyError, ValueError)):
            FeatureExtractor([group]).compute([lc])
