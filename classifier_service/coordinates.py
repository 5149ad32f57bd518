"""Galactic and ecliptic coordinates of ICRS positions, and back: one set of rotations for the
classifiers' inputs (stars crowd the Galactic plane, asteroids the ecliptic) and for the
simulators that put sources on the sky, so that what a simulator places at a latitude is what
a classifier reads there. Angles in degrees; arrays or scalars. Checked against astropy in
tests/classifiers/test_coordinates.py.
"""
from __future__ import annotations

import numpy as np

# Rotation of ICRS equatorial unit vectors to Galactic ones (Hipparcos, ESA 1997, vol. 1 §1.5.3).
ICRS_TO_GALACTIC = np.array([
    [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
    [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
    [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
])
# Mean obliquity of the ecliptic at J2000 (IAU 1976): ICRS to the mean ecliptic of J2000 is a
# rotation about the x axis by it.
OBLIQUITY_J2000 = np.radians(23.4392911)
_C, _S = np.cos(OBLIQUITY_J2000), np.sin(OBLIQUITY_J2000)
ICRS_TO_ECLIPTIC = np.array([[1.0, 0.0, 0.0], [0.0, _C, _S], [0.0, -_S, _C]])


def galactic_latitude(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Galactic latitude b of ICRS positions."""
    return _latitude_after_rotation(ra, dec, ICRS_TO_GALACTIC)


def ecliptic_latitude(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Latitude β on the mean ecliptic of J2000 of ICRS positions."""
    return _latitude_after_rotation(ra, dec, ICRS_TO_ECLIPTIC)


def icrs_to_galactic(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(l in [0, 360), b) of ICRS positions."""
    return _rotate(ra, dec, ICRS_TO_GALACTIC)


def icrs_to_ecliptic(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(λ in [0, 360), β) on the mean ecliptic of J2000 of ICRS positions."""
    return _rotate(ra, dec, ICRS_TO_ECLIPTIC)


def galactic_to_icrs(l: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ra in [0, 360), dec) of Galactic positions."""
    return _rotate(l, b, ICRS_TO_GALACTIC.T)


def ecliptic_to_icrs(lam: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ra in [0, 360), dec) of positions on the mean ecliptic of J2000."""
    return _rotate(lam, beta, ICRS_TO_ECLIPTIC.T)


def _latitude_after_rotation(ra: np.ndarray, dec: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Latitude in the frame ``rotation`` maps equatorial unit vectors to (only its z row matters)."""
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    x, y, z = rotation[2]
    sin_latitude = np.cos(dec_r) * (x * np.cos(ra_r) + y * np.sin(ra_r)) + z * np.sin(dec_r)
    return np.degrees(np.arcsin(np.clip(sin_latitude, -1.0, 1.0)))


def _rotate(lon: np.ndarray, lat: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude after ``rotation`` of the unit vectors at (lon, lat)."""
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    vector = np.stack([np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)])
    x, y, z = np.tensordot(rotation, vector, axes=1)
    longitude = np.degrees(np.arctan2(y, x)) % 360.0
    # A longitude a hair below 0 rounds to 360 itself under the modulo: that is 0 again (sky.wrapped_ra).
    return np.where(longitude >= 360.0, 0.0, longitude), np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
