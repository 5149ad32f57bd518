"""Simulated objects sit where the catalogues put their kind: variable stars at the Galactic
latitudes of GCVS's, extragalactic sources off the plane, all of it north of ZTF's dec -30,
and on Rubin's sky the same kinds south of its dec +30."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classifier_service.coordinates import galactic_latitude
from classifier_service.simulate import rubin
from classifier_service.simulate.sky import MIN_DEC, STAR_ABS_B_PERCENTILES, ecliptic_position, sky_position

GCVS = ("labels", "gcvs_fink-science", "gcvs.parquet")


@pytest.fixture(scope="module")
def gcvs_abs_b(shared_data) -> tuple[np.ndarray, np.ndarray]:
    """|b| (deg) and dec of every GCVS star, read in place."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    stars = pd.read_parquet(shared_data.joinpath(*GCVS), columns=["ra", "dec"])
    galactic = SkyCoord(stars["ra"].to_numpy() * u.deg, stars["dec"].to_numpy() * u.deg).galactic
    return np.abs(galactic.b.deg), stars["dec"].to_numpy()


def star_abs_b(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs([sky_position(rng, galactic=True)[2] for _ in range(n)])


def test_the_star_latitude_table_is_gcvs_every_fifth_percentile(gcvs_abs_b):
    abs_b, _ = gcvs_abs_b
    expected = np.percentile(abs_b, np.linspace(0, 100, len(STAR_ABS_B_PERCENTILES)))
    assert np.allclose(STAR_ABS_B_PERCENTILES, expected, atol=0.05)


def test_simulated_variable_stars_lie_at_the_latitudes_of_gcvs_stars_north_of_dec_minus_30(gcvs_abs_b):
    abs_b, dec = gcvs_abs_b
    north = abs_b[dec > MIN_DEC]
    simulated = star_abs_b(4000)
    for q in (25, 50, 75, 90):
        assert abs(np.percentile(simulated, q) - np.percentile(north, q)) < 0.1 * np.percentile(north, q) + 0.5, q
    assert abs(np.mean(simulated < 10) - np.mean(north < 10)) < 0.03
    assert np.percentile(simulated, 95) > 45, "stars reach the Galactic poles, not only the plane"


def test_extragalactic_sources_avoid_the_plane_and_everything_is_north_of_dec_minus_30():
    rng = np.random.default_rng(1)
    positions = [sky_position(rng, galactic=k % 2 == 0) for k in range(2000)]
    assert all(dec > MIN_DEC for _, dec, _ in positions)
    assert all(abs(b) >= 15 - 1e-9 for _, _, b in positions[1::2])


def test_rubins_stars_lie_at_gcvs_latitudes_and_everything_within_its_declinations(gcvs_abs_b):
    abs_b, dec = gcvs_abs_b
    south = abs_b[dec < rubin.DEC_RANGE[1]]
    rng = np.random.default_rng(2)
    stars = np.array([rubin.position(rng, galactic=True) for _ in range(4000)])
    others = np.array([rubin.position(rng, galactic=False) for _ in range(1000)])
    asteroids = np.array([ecliptic_position(rng, None, rubin.DEC_RANGE) for _ in range(1000)])
    simulated = np.abs(galactic_latitude(stars[:, 0], stars[:, 1]))
    assert abs(np.median(simulated) - np.median(south)) < 0.1 * np.median(south) + 0.5
    assert abs(np.mean(simulated < 10) - np.mean(south < 10)) < 0.03
    assert (np.abs(galactic_latitude(others[:, 0], others[:, 1])) >= 15 - 1e-9).all()
    for ra_dec in (stars, others, asteroids):
        assert (ra_dec[:, 1] < rubin.DEC_RANGE[1]).all()
    assert (asteroids[:, 1] < MIN_DEC).any(), "asteroids also south of ZTF's sky"
