"""Simulated light curves look like ZTF difference photometry of each class."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from classifier_service.simulate import CLASSES, HIERARCHY, simulate_lightcurve
from classifier_service.simulate.cadence import default_model
from classifier_service.simulate.sources import build_source


def difference_flux(curve, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed difference flux (linear in the star's flux) of one band's detections."""
    chosen = curve.fid == band
    return curve.mjd[chosen], curve.isdiffpos[chosen] * 10 ** (-0.4 * curve.magpsf[chosen])


def test_the_fifteen_classes_form_alerces_hierarchy():
    assert len(CLASSES) == 15
    assert sorted(sum(HIERARCHY.values(), ())) == sorted(CLASSES)


@pytest.mark.parametrize("class_name", CLASSES)
def test_every_class_gives_consistent_detections_and_upper_limits(class_name):
    curve = simulate_lightcurve(class_name, np.random.default_rng(7), min_detections=6)
    n = len(curve)
    assert n >= 6
    for name in ("fid", "magpsf", "sigmapsf", "isdiffpos", "diffmaglim", "distnr", "magnr"):
        assert getattr(curve, name).shape == (n,), name
    assert set(np.unique(curve.fid)) <= {1, 2, 3}
    assert np.all(curve.sigmapsf > 0) and np.all(np.isfinite(curve.magpsf))
    # A detection is at least as bright as its epoch's 5-sigma limit, within the noise.
    assert np.all(curve.magpsf < curve.diffmaglim + 3 * curve.sigmapsf)
    assert np.all((curve.nd_diffmaglim > 15) & (curve.nd_diffmaglim < 22.5))
    assert not set(curve.mjd) & set(curve.nd_mjd)
    assert {"ra", "dec", "sgscore1", "distpsnr1"} <= set(curve.metadata)
    assert curve.metadata["dec"] > -30


def test_same_seed_gives_the_same_light_curve_and_another_seed_a_different_one():
    first = simulate_lightcurve("RRL", np.random.default_rng(3))
    again = simulate_lightcurve("RRL", np.random.default_rng(3))
    other = simulate_lightcurve("RRL", np.random.default_rng(4))
    np.testing.assert_array_equal(first.mjd, again.mjd)
    np.testing.assert_array_equal(first.magpsf, again.magpsf)
    assert first.metadata == again.metadata
    assert len(first) != len(other) or not np.array_equal(first.magpsf, other.magpsf)


def test_a_supernova_rises_then_fades():
    rng = np.random.default_rng(11)
    curves = [simulate_lightcurve("SNIa", rng, duration_days=200, min_detections=12) for _ in range(10)]
    assert all(np.all(c.isdiffpos == 1) for c in curves), "a supernova is only brighter than the reference"

    def rise_and_fade(curve) -> tuple[float, float]:
        """Magnitudes gained from the first r detection to the peak, and lost from it to the last."""
        mag = curve.magpsf[curve.fid == 2]
        return (mag[0] - mag.min(), mag[-1] - mag.min()) if mag.size else (0.0, 0.0)

    observed_both_ways = [c for c in curves if min(rise_and_fade(c)) > 0.75]
    assert len(observed_both_ways) >= 3
    for curve in observed_both_ways:
        mjd = curve.mjd[curve.fid == 2]
        peak_time = mjd[np.argmin(curve.magpsf[curve.fid == 2])]
        assert mjd[0] < peak_time < mjd[-1]


def test_an_rr_lyrae_period_is_recovered_by_lomb_scargle():
    rng = np.random.default_rng(5)
    recovered = 0
    for _ in range(4):
        curve = simulate_lightcurve("RRL", rng, duration_days=300, min_detections=60)
        mjd, flux = difference_flux(curve, 2)
        frequency, power = LombScargle(mjd, flux).autopower(minimum_frequency=0.5, maximum_frequency=5,
                                                             samples_per_peak=20)
        best = 1 / frequency[np.argmax(power)]
        recovered += abs(best - curve.params["period"]) / curve.params["period"] < 0.01
    assert recovered >= 3


def test_variable_stars_sit_on_a_reference_star_and_vary_both_ways():
    curve = simulate_lightcurve("CEP", np.random.default_rng(2), min_detections=30)
    assert set(np.unique(curve.isdiffpos)) == {-1, 1}
    assert np.all(curve.distnr < 1.4) and np.all(np.isfinite(curve.magnr))
    assert curve.metadata["sgscore1"] > 0.8 and curve.metadata["distpsnr1"] < 1.5


def test_supernovae_are_offset_from_a_galaxy_and_agn_are_nuclear():
    rng = np.random.default_rng(8)
    sn = [simulate_lightcurve("SNII", rng, min_detections=3).metadata for _ in range(20)]
    agn = [simulate_lightcurve("AGN", rng).metadata for _ in range(20)]
    assert np.median([m["sgscore1"] for m in sn]) < 0.5
    assert np.median([m["distpsnr1"] for m in sn]) > 0.5
    assert np.median([m["distpsnr1"] for m in agn]) < 0.5


def test_class_typical_periods_and_amplitudes():
    rng = np.random.default_rng(1)
    params = {name: [simulate_lightcurve(name, rng).params for _ in range(15)] for name in ("LPV", "DSCT", "CEP")}
    assert min(p["period"] for p in params["LPV"]) > 50
    assert max(p["period"] for p in params["DSCT"]) < 0.3
    assert all(1 <= p["period"] <= 50 for p in params["CEP"])
    assert np.median([p["amplitude"] for p in params["LPV"]]) > 4 * np.median([p["amplitude"] for p in params["DSCT"]])


def test_the_streams_eclipsing_and_other_periodic_stars_vary_less_than_catalogued_ones():
    rng = np.random.default_rng(0)
    for name in ("E", "Periodic-Other"):
        stream = [build_source(name, rng, near_threshold=True).params["amplitude"] for _ in range(200)]
        catalogue = [build_source(name, rng).params["amplitude"] for _ in range(200)]
        assert min(stream) >= 0.08 and np.median(stream) < 0.12 < np.median(catalogue)


def test_blazars_vary_more_than_quasars():
    rng = np.random.default_rng(4)
    assert (np.median([simulate_lightcurve("Blazar", rng).params["sf_inf"] for _ in range(10)])
            > 2 * np.median([simulate_lightcurve("QSO", rng).params["sf_inf"] for _ in range(10)]))


def test_cadence_has_g_and_r_most_nights_and_seasonal_gaps():
    mjd, fid = default_model().epochs(np.random.default_rng(0), 59000, 59000 + 3 * 365.25)
    assert np.mean(fid == 1) > 0.3 and np.mean(fid == 2) > 0.3 and np.mean(fid == 3) < 0.15
    gaps = np.diff(np.unique(np.floor(mjd)))
    assert np.median(gaps) <= 3
    assert gaps.max() > 50, "the object sets for part of each year"


def test_a_bright_stars_small_variations_are_lost_in_its_subtraction_residual():
    model, rng = default_model(), np.random.default_rng(0)
    mjd, fid = np.full(200, 59000.3), np.full(200, 2, dtype=np.int8)
    star, faint_transient = 10 ** (-0.4 * (14.0 - 23.9)), 10 ** (-0.4 * (18.0 - 23.9))
    wobble = 0.03 * star  # 0.03 mag on a 14-mag star: as much difference flux as an 18-mag transient
    on_star = model.observe(np.full(200, wobble), mjd, fid, rng, diffmaglim=np.full(200, 20.5), reference_flux=star)
    alone = model.observe(np.full(200, faint_transient), mjd, fid, rng, diffmaglim=np.full(200, 20.5))
    assert on_star.detected.mean() < 0.1 < 0.9 < alone.detected.mean()


def test_rr_lyrae_eclipsing_and_long_period_sub_types_follow_gcvs_shares():
    rng = np.random.default_rng(2)
    rrc = np.mean([simulate_lightcurve("RRL", rng, duration_days=30).params["rrc"] for _ in range(300)])
    contact = np.mean([simulate_lightcurve("E", rng, duration_days=30).params["contact"] for _ in range(300)])
    assert 0.12 < rrc < 0.27 and 0.28 < contact < 0.45


def test_detections_convert_to_the_alert_model():
    curve = simulate_lightcurve("E", np.random.default_rng(9), min_detections=6)
    detections = curve.detections("ZTF20simtest")
    assert len(detections) == len(curve)
    assert detections[0].oid == "ZTF20simtest" and detections[0].isdiffpos in (1, -1)
    assert len(curve.non_detections("ZTF20simtest")) == curve.nd_mjd.size


def test_unknown_class_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown light-curve class"):
        simulate_lightcurve("Kilonova", np.random.default_rng(0))
