"""One set of sky rotations for the classifiers' inputs and the simulators: astropy's frames."""
from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from classifier_service.coordinates import (
    ecliptic_latitude,
    ecliptic_to_icrs,
    galactic_latitude,
    galactic_to_icrs,
    icrs_to_ecliptic,
    icrs_to_galactic,
)

rng = np.random.default_rng(1)
RA, DEC = rng.uniform(0, 360, 200), np.degrees(np.arcsin(rng.uniform(-0.999, 0.999, 200)))
SKY = SkyCoord(ra=RA * u.deg, dec=DEC * u.deg, frame="icrs")


def angular_separation_deg(lon1, lat1, lon2, lat2) -> np.ndarray:
    return SkyCoord(lon1 * u.deg, lat1 * u.deg).separation(SkyCoord(lon2 * u.deg, lat2 * u.deg)).deg


def test_galactic_coordinates_are_astropys():
    """Within 0.1": astropy goes through FK5, whose frame bias against ICRS is ~0.02"."""
    l, b = icrs_to_galactic(RA, DEC)
    assert np.allclose(galactic_latitude(RA, DEC), SKY.galactic.b.deg, atol=3e-5)
    assert np.allclose(b, SKY.galactic.b.deg, atol=3e-5)
    assert angular_separation_deg(l, b, SKY.galactic.l.deg, SKY.galactic.b.deg).max() < 3e-5
    assert ((0 <= l) & (l < 360)).all()


def test_ecliptic_coordinates_are_astropys_mean_ecliptic_of_j2000():
    """Within 1e-3 deg: astropy's barycentric frame adds precession terms our fixed obliquity lacks."""
    ecliptic = SKY.barycentricmeanecliptic
    lam, beta = icrs_to_ecliptic(RA, DEC)
    assert np.allclose(ecliptic_latitude(RA, DEC), ecliptic.lat.deg, atol=1e-3)
    assert angular_separation_deg(lam, beta, ecliptic.lon.deg, ecliptic.lat.deg).max() < 1e-3


@pytest.mark.parametrize("there, back", [(icrs_to_galactic, galactic_to_icrs), (icrs_to_ecliptic, ecliptic_to_icrs)])
def test_a_position_taken_there_and_back_is_where_it_was(there, back):
    ra, dec = back(*there(RA, DEC))
    assert angular_separation_deg(ra, dec, RA, DEC).max() < 1e-9


def test_the_poles_and_the_centre_are_where_the_frames_put_them():
    assert galactic_latitude(192.85948, 27.12825) == pytest.approx(90.0, abs=1e-4)  # north Galactic pole
    ra, dec = galactic_to_icrs(0.0, 0.0)  # Galactic centre, in Sagittarius
    assert (float(ra), float(dec)) == pytest.approx((266.405, -28.936), abs=1e-3)
    assert ecliptic_latitude(270.0, 90.0 - 23.4392911) == pytest.approx(90.0, abs=1e-6)  # north ecliptic pole
    assert icrs_to_ecliptic(0.0, 0.0) == pytest.approx((0.0, 0.0), abs=1e-9)  # the March equinox


def test_a_longitude_a_hair_below_zero_is_zero_not_360():
    """Positions on ra = 0 taken to Galactic and back come out a rounding error either side of
    0; the modulo makes the negative ones 360.0, which is no right ascension (sky.RA_RULE)."""
    dec = np.linspace(-80, 80, 2001)
    ra, back_dec = galactic_to_icrs(*icrs_to_galactic(np.zeros_like(dec), dec))
    assert ra.max() < 360.0 and np.allclose(np.where(ra > 180, ra - 360, ra), 0.0, atol=1e-9)
    assert np.allclose(back_dec, dec)
