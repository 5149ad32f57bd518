"""The period search: the whole light curve, periods from 0.05 d to the baseline, and the same
answer as an exhaustive multi-harmonic periodogram on real periodic stars."""
from __future__ import annotations

import numpy as np
import pytest

from classifier_service.features.bands import ObjectBands
from classifier_service.features.period import (
    BandRows,
    LimitFolds,
    Period,
    binomial_cdf,
    harmonic_fit,
    periodogram_input,
)
from classifier_service.lightcurve.model import LightCurve
from classifier_service.train.period_recovery import REFERENCE_PERIODS, real_lightcurves, simulated_stars
from tests.features.test_lc_features import apparent_lightcurve, ztf_like_epochs


def test_periods_of_real_stars_agree_with_an_exhaustive_multi_harmonic_periodogram(shared_data):
    curves = real_lightcurves(shared_data)
    oids = sorted(REFERENCE_PERIODS)
    found = Period()([ObjectBands.of(curves[oid]) for oid in oids])[:, 0]
    agree = {oid: period / REFERENCE_PERIODS[oid] for oid, period in zip(oids, found)}
    assert all(abs(ratio - 1) < 0.01 for ratio in agree.values()), agree


def test_the_found_period_fits_better_than_every_other_lomb_scargle_candidate(shared_data):
    """The answer is the multi-harmonic optimum, not merely the highest single-sine peak."""
    lc = real_lightcurves(shared_data)["ZTF18aasycma"]
    obj = ObjectBands.of(lc)
    period = Period()([obj])[0, 0]
    rows = BandRows.of(periodogram_input(obj.bands))
    around = 1.0 / period + np.linspace(-2e-4, 2e-4, 41)
    assert harmonic_fit(rows, np.array([1.0 / period]))[0, 0] <= harmonic_fit(rows, around).min() * (1 + 1e-6)


@pytest.mark.parametrize("period", [0.052, 1.008, 250.0])
def test_periods_from_hours_to_most_of_the_baseline_are_found_on_a_long_curve(period):
    rng = np.random.default_rng(11)
    mjd, fid = ztf_like_epochs(rng, 400, 1800)  # five seasons: nothing is cut away
    mag = 16 + 0.3 * np.sin(2 * np.pi * mjd / period) + rng.normal(0, 0.02, mjd.size)
    found = Period()([ObjectBands.of(apparent_lightcurve(mjd, fid, mag))])[0]
    assert found[0] == pytest.approx(period, rel=0.01)


def test_an_eclipsing_binary_with_unequal_minima_gets_its_orbital_period():
    rng = np.random.default_rng(12)
    mjd, fid = ztf_like_epochs(rng, 300, 900)
    orbital = 1.37
    phase = (mjd / orbital) % 1.0
    dip = np.exp(-0.5 * (np.minimum(phase, 1 - phase) / 0.05) ** 2) + 0.5 * np.exp(-0.5 * ((phase - 0.5) / 0.05) ** 2)
    found = Period()([ObjectBands.of(apparent_lightcurve(mjd, fid, 15 + 0.6 * dip + rng.normal(0, 0.02, mjd.size)))])
    assert found[0, 0] == pytest.approx(orbital, rel=0.01)



def test_narrow_eclipses_of_unequal_depth_mostly_get_the_orbital_period():
    """Few harmonics of the orbit cannot draw 2%-of-phase eclipses, so comparing equal harmonic
    counts keeps half the orbit; the odd harmonics' gain over decoy frequencies finds the orbit."""
    orbital, ratios = 2.71, []
    for seed in range(12, 18):
        rng = np.random.default_rng(seed)
        mjd, fid = ztf_like_epochs(rng, 250, 800)
        phase = (mjd / orbital) % 1.0
        dip = (np.exp(-0.5 * (np.minimum(phase, 1 - phase) / 0.025) ** 2)
               + 0.6 * np.exp(-0.5 * ((phase - 0.5) / 0.025) ** 2))
        lc = apparent_lightcurve(mjd, fid, 15 + 0.8 * dip + rng.normal(0, 0.02, mjd.size))
        ratios.append(Period()([ObjectBands.of(lc)])[0, 0] / orbital)
    assert sum(abs(r - 1) < 0.01 for r in ratios) >= 4, ratios
    assert all(min(abs(r - 1), abs(r - 0.5)) < 0.01 for r in ratios), ratios


def test_a_sinusoid_whose_cycles_differ_in_depth_keeps_its_period():
    """A long-period variable over a few seasons: at twice its period the model's first
    harmonic is the sinusoid and the second absorbs the cycle-to-cycle changes, so twice the
    period fits a little better; it must not pass for the period."""
    ratios = []
    for seed in range(30, 50):
        rng = np.random.default_rng(seed)
        mjd, fid = ztf_like_epochs(rng, 400, 1000)
        seen = (mjd - mjd.min()) % 365 < 240  # the star is behind the Sun a third of the year
        mjd, fid = mjd[seen], fid[seen]
        period = float(rng.uniform(150, 300))
        depth = 1 + 0.2 * np.sin(2.3 * np.floor(mjd / period) + rng.uniform(0, 6))
        mag = 15 + 0.4 * depth * np.sin(2 * np.pi * mjd / period) + rng.normal(0, 0.02, mjd.size)
        ratios.append(Period()([ObjectBands.of(apparent_lightcurve(mjd, fid, mag))])[0, 0] / period)
    assert all(abs(r - 1) < 0.01 for r in ratios), ratios


def test_a_batch_gives_each_curve_exactly_what_it_gets_alone():
    """Curves whose longest bands are equally long are searched together; every value is bit for bit
    the one-curve answer, whatever the batch holds and in whatever order."""
    rng = np.random.default_rng(21)
    objects = []
    for g, r in ((12, 12), (12, 12), (12, 0), (12, 8), (8, 12), (30, 25), (80, 60), (4, 3)):
        mjd, _ = ztf_like_epochs(rng, g + r, 400)
        fid = rng.permutation(np.repeat([1, 2], [g, r]))
        mag = 17 + 0.3 * np.sin(2 * np.pi * mjd / float(rng.uniform(0.2, 20))) + rng.normal(0, 0.03, mjd.size)
        objects.append(ObjectBands.of(apparent_lightcurve(mjd, fid, mag)))
    alone = np.vstack([Period()([obj]) for obj in objects])
    assert np.isfinite(alone[:, 0]).all()
    assert np.array_equal(Period()(objects), alone, equal_nan=True)
    assert np.array_equal(Period()(objects[::-1])[::-1], alone, equal_nan=True)


def test_a_short_curve_of_a_pulsator_keeps_its_period():
    """Fifty points leave a four-harmonic fit few degrees of freedom: the half's grid search then
    gains a large share of the χ² from noise alone, which must not pass for alternate cycles."""
    ratios = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        mjd, fid = ztf_like_epochs(rng, 50, 600)
        period = float(rng.uniform(0.1, 0.5))
        phase = (mjd / period) % 1.0
        sawtooth = np.where(phase < 0.4, phase / 0.4, (1 - phase) / 0.6)
        lc = apparent_lightcurve(mjd, fid, 16 + 0.2 * sawtooth + rng.normal(0, 0.02, mjd.size))
        ratios.append(Period()([ObjectBands.of(lc)])[0, 0] / period)
    assert all(abs(r - 1) < 0.01 for r in ratios), ratios


def test_simulated_periodic_stars_of_every_class_get_their_true_period():
    """Five stars of each periodic class, periods from 0.05 d to a third of the baseline."""
    stars = simulated_stars(5, per_class=5)
    found = Period()([bands for _, _, bands in stars])[:, 0]
    ratios = [(lc_class, f / period) for (lc_class, period, _), f in zip(stars, found)]
    recovered = [abs(ratio - 1) < 0.01 for _, ratio in ratios]
    assert np.mean(recovered) >= 0.9, ratios  # near-equal eclipses can pass for half the orbit


def binary_seen_in_eclipse_only(seed: int, orbital: float = 3.3) -> tuple[LightCurve, LightCurve]:
    """A detached binary (primary eclipse 0.9 mag, secondary 0.15) whose difference images show
    only the primary eclipse: with its epochs without a detection (limit 20.5) and without them."""
    rng = np.random.default_rng(seed)
    mjd, fid = ztf_like_epochs(rng, 500, 1000)
    phase = (mjd / orbital) % 1.0
    dip = (0.9 * np.exp(-0.5 * (np.minimum(phase, 1 - phase) / 0.04) ** 2)
           + 0.15 * np.exp(-0.5 * ((phase - 0.5) / 0.04) ** 2))
    seen = dip > 0.25
    mag = 15 + dip + rng.normal(0, 0.02, mjd.size)
    missed = (mjd[~seen], fid[~seen].astype(np.int8), np.full(np.count_nonzero(~seen), 20.5))
    curves = (apparent_lightcurve(mjd[seen], fid[seen], mag[seen], nd=missed),
              apparent_lightcurve(mjd[seen], fid[seen], mag[seen]))
    for lc in curves:  # |flux - reference| of a 15-mag reference, as the difference images measure it
        lc.magpsf[:] = 15 - 2.5 * np.log10(1 - 10 ** (-0.4 * dip[seen]))
    return curves


def test_a_binary_seen_only_in_eclipse_gets_its_orbit_from_the_epochs_it_was_not_seen():
    """Detections in one eclipse fold as well at any fraction of the orbit (a ~0.5-d alias wins);
    folded there, the epochs without a detection fall on the eclipse, which they could not have missed."""
    orbital = 3.3
    with_limits, without = zip(*(binary_seen_in_eclipse_only(seed, orbital) for seed in range(40, 50)))
    found = Period()([ObjectBands.of(lc) for lc in with_limits])[:, 0] / orbital
    blind = Period()([ObjectBands.of(lc) for lc in without])[:, 0] / orbital
    assert np.count_nonzero(np.abs(found - 1) < 0.01) >= 9, found
    assert not np.any(np.abs(blind - 1) < 0.01), blind  # the detections alone cannot tell


def test_limit_conflicts_count_unseen_epochs_that_fall_among_bright_detections_only():
    """Folded at the orbit no unseen epoch falls on the eclipse; at a third of it they do."""
    lc, _ = binary_seen_in_eclipse_only(40)
    folds = LimitFolds.of(periodogram_input(ObjectBands.of(lc).bands))
    assert folds.conflicts(1 / 3.3) == 0
    assert folds.conflicts(3 / 3.3) > 20
    assert folds.submultiple(3 / 3.3, baseline=1000.0) == 3


def test_a_random_walk_gets_a_period_fit_near_zero_and_a_repeating_star_near_one():
    """A random walk is fitted by some period too; Period_fit says that period explains nothing
    a smooth trend with as many terms does not."""
    rng = np.random.default_rng(13)
    mjd, fid = ztf_like_epochs(rng, 120, 300)
    walk = 18 + np.cumsum(rng.normal(0, 0.05, mjd.size))
    sine = 18 + 0.3 * np.sin(2 * np.pi * mjd / 0.61) + rng.normal(0, 0.03, mjd.size)
    fits = Period()([ObjectBands.of(apparent_lightcurve(mjd, fid, mag)) for mag in (walk, sine)])[:, 2]
    assert abs(fits[0]) < 0.2
    assert fits[1] > 0.9


@pytest.mark.parametrize("k, n, p", [(0, 10, 0.3), (3, 40, 0.2), (12, 2000, 0.02), (600, 2000, 0.5), (5, 5, 0.9)])
def test_the_binomial_tail_is_scipys_also_where_the_counts_overflow_a_float(k, n, p):
    from scipy.stats import binom

    assert binomial_cdf(k, n, p) == pytest.approx(float(binom.cdf(k, n, p)), rel=1e-9, abs=1e-300)


def test_evaluate_prints_how_often_the_period_is_found(shared_data, capsys):
    from classifier_service.cli import main

    assert main(["--log-level", "WARNING", "evaluate", "--only", "periods", "--data-dir", str(shared_data),
                 "--period-seeds", "5"]) == 0
    out = capsys.readouterr().out
    assert "== periods: the light-curve features' period search ==" in out
    assert "simulated: " in out and " of 240 (" in out
    assert f"within 1% of an exhaustive four-harmonic periodogram: {len(REFERENCE_PERIODS)} of {len(REFERENCE_PERIODS)}" in out
