"""Where simulated objects sit on the sky and what the PS1 catalogue knows of their surroundings.

Stars crowd the Galactic plane and extragalactic sources avoid it; ZTF sees north of
dec -30, and on a given night only the fields above Palomar's horizon (:func:`up_at`), so a
simulated night's objects are where ZTF could have pointed at their alerts' times. The candidate's PS1 cross-match fields (sgscore, distpsnr, sgmag...) and the
reference-image source (distnr, magnr) depend on what lies under the transient: a star, a
galaxy nucleus, an offset host, or nothing — the ``host`` kinds below.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from classifier_service.coordinates import ecliptic_to_icrs, galactic_to_icrs
from classifier_service.simulate.candidates import near_source

MIN_DEC = -30.0
DEC_RANGE = (MIN_DEC, 90.0)  # ZTF's sky
# |Galactic latitude| of the variable stars of GCVS (Samus et al. 2017, Astron. Rep. 61, 80), every
# 5th percentile of the 59,099 stars of ../shared/data/labels/gcvs_fink-science/gcvs.parquet. Drawn
# at a uniform longitude and cut at MIN_DEC they give the latitudes of its 42,376 stars north of
# dec -30 (|b| median 12.6 against 12.7, 95th percentile 63 against 62, 42% within 10 deg), as do
# the 73 real labelled variable stars of the alerts there (median 18, 41% within 10 deg). A Laplace
# profile of scale 8 deg put 68% within 10 deg and 95% within 27, which taught the stamp
# classifier that a star off the plane is an AGN.
STAR_ABS_B_PERCENTILES = (0.0, 1.0, 2.1, 3.1, 4.1, 5.3, 6.5, 7.6, 8.9, 10.3, 11.8, 13.7, 15.6, 18.2, 19.7,
                          23.1, 27.8, 33.7, 42.9, 58.8, 89.9)
_STAR_LEVELS = np.linspace(0.0, 1.0, len(STAR_ABS_B_PERCENTILES))  # the cumulative share at each entry
# ZTF's site (east longitude, latitude; degrees) and how high it looks: the 311 real alert packets
# of ../shared/data/ztf_alerts lie at Palomar airmass median 1.27, 95% below 2.09 (their ra, dec, jd).
PALOMAR = (-116.8650, 33.3563)
MAX_AIRMASS = 2.0
# Rejection draws of a position up at a night's detection times before the least low one
# drawn is taken: enough for any span of one night's visits (<= 9 h, see cadence.NIGHT_*).
MAX_NIGHT_TRIES = 20_000
HOSTS = ("star", "nuclear", "offset", "hostless")
MISSING = -999.0  # ZTF's marker for "no such PS1 source"


def sky_position(rng: np.random.Generator, galactic: bool,
                 dec_range: tuple[float, float] = DEC_RANGE) -> tuple[float, float, float]:
    """(ra, dec, b) within ``dec_range`` (ZTF's sky by default): Galactic sources as the variable
    stars of GCVS, others at |b| > 15 deg."""
    while True:
        l = rng.uniform(0, 360)
        if galactic:
            abs_b = float(np.interp(rng.uniform(), _STAR_LEVELS, STAR_ABS_B_PERCENTILES))
        else:
            abs_b = float(np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(15)), 1))))
        b = abs_b * rng.choice([-1, 1])
        ra, dec = galactic_to_icrs(l, b)
        if dec_range[0] < dec < dec_range[1]:
            return float(ra), float(dec), b


def local_sidereal_deg(mjd: np.ndarray | float, longitude_deg: float) -> np.ndarray:
    """Mean local sidereal time in degrees (Meeus 1998, eq. 12.4 without its T**2 terms, which
    stay below 0.001 deg this century): where on the sky the meridian lies at a moment."""
    return (280.46061837 + 360.98564736629 * (np.asarray(mjd, dtype=float) - 51544.5) + longitude_deg) % 360.0


def airmass(ra: float, dec: float, mjd: np.ndarray | float, site: tuple[float, float] = PALOMAR) -> np.ndarray:
    """sec(zenith distance) of (ra, dec) from ``site`` (longitude, latitude) at ``mjd``; inf
    below the horizon (as facilities.followup.visibility counts it)."""
    longitude, latitude = site
    hour_angle = np.radians(local_sidereal_deg(mjd, longitude) - ra)
    lat, d = np.radians(latitude), np.radians(dec)
    sin_altitude = np.sin(lat) * np.sin(d) + np.cos(lat) * np.cos(d) * np.cos(hour_angle)
    with np.errstate(divide="ignore"):
        return np.where(sin_altitude > 0, 1.0 / sin_altitude, np.inf)


def up_at(draw: Callable[[], tuple[float, ...]], mjd: np.ndarray,
          site: tuple[float, float] = PALOMAR) -> tuple[float, ...]:
    """A position from ``draw`` (ra and dec first) that ``site`` could observe at every time ``mjd``.

    A night's alerts come from the fields the telescope pointed at then, not from anywhere on
    the sky: ``draw``'s distribution (Galactic latitudes per class...) restricted to the
    positions below ``MAX_AIRMASS`` at each detection.
    """
    lowest, position = np.inf, ()
    for _ in range(MAX_NIGHT_TRIES):
        candidate = draw()
        worst = float(np.max(airmass(candidate[0], candidate[1], mjd, site)))
        if worst < MAX_AIRMASS:
            return candidate
        if worst <= lowest:
            lowest, position = worst, candidate
    return position


def sun_longitude_deg(mjd: float) -> float:
    """The Sun's apparent ecliptic longitude (equinox of date) to ~0.01 deg, the Astronomical
    Almanac's low-precision formula: where opposition lies on a night."""
    n = mjd - 51544.5
    g = np.radians(357.528 + 0.9856003 * n)
    return float((280.460 + 0.9856474 * n + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g)) % 360.0)


def ps1_neighbours(rng: np.random.Generator, host: str, mag: float) -> dict[str, float]:
    """PS1 cross-match fields of the candidate given what it sits on.

    ``mag`` is the magnitude of the source under the candidate (the star, the galaxy).
    """
    fields: dict[str, float] = {}
    if host in ("star", "nuclear"):
        near = near_source(host, rng)
        first = (near["sgscore1"], near["distpsnr1"], mag)
    elif host == "offset":
        first = (rng.uniform(0.0, 0.3), rng.uniform(0.5, 4.0), mag)
    else:
        first = (rng.uniform(0.0, 1.0), rng.uniform(4.0, 25.0), rng.uniform(19.5, 22.5))
    neighbours = [first]
    for _ in range(2):
        if rng.uniform() < 0.85:
            nearer = max(neighbours[-1][1], 0.0) + 0.5
            neighbours.append((rng.uniform(0, 1), nearer + rng.exponential(8.0), rng.uniform(15.0, 22.5)))
        else:
            neighbours.append((MISSING, MISSING, MISSING))
    for index, (sgscore, dist, r_mag) in enumerate(neighbours, start=1):
        colour = rng.uniform(0.2, 1.2) if r_mag != MISSING else 0.0
        fields[f"sgscore{index}"] = float(sgscore)
        fields[f"distpsnr{index}"] = float(dist)
        fields[f"srmag{index}"] = float(r_mag)
        fields[f"sgmag{index}"] = float(r_mag + colour) if r_mag != MISSING else MISSING
        fields[f"simag{index}"] = float(r_mag - colour / 3) if r_mag != MISSING else MISSING
        fields[f"szmag{index}"] = float(r_mag - colour / 2) if r_mag != MISSING else MISSING
    return fields


# Main-belt orbits: heliocentric distances 2.1-3.3 AU, inclinations Rayleigh-distributed with
# sigma 7 deg (mean 8.8 deg; most main-belt asteroids have i < 20 deg, e.g. the MPC orbit
# catalogue's numbered objects). Seen from the Earth near opposition a body at r AU appears
# r / (r - 1) times further from the ecliptic than from the Sun, so detections reach ~20-30 deg
# of ecliptic latitude (real known-asteroid alerts here: up to 19 deg).
MAIN_BELT_AU = (2.1, 3.3)
INCLINATION_SIGMA = np.radians(7.0)
OPPOSITION_SPREAD = np.radians(60.0)  # heliocentric longitude from the Earth's: ZTF looks at night


def ecliptic_position(rng: np.random.Generator, earth_longitude_deg: float | None = None,
                      dec_range: tuple[float, float] = DEC_RANGE) -> tuple[float, float]:
    """(ra, dec) within ``dec_range`` (ZTF's sky by default) of a main-belt asteroid seen from the
    Earth at night; in any season, or in the one where the Earth's heliocentric longitude is
    ``earth_longitude_deg`` (Sun's + 180)."""
    while True:
        r = rng.uniform(*MAIN_BELT_AU)
        beta_sun = np.arcsin(np.sin(rng.rayleigh(INCLINATION_SIGMA)) * np.sin(rng.uniform(0, 2 * np.pi)))
        offset = rng.uniform(-OPPOSITION_SPREAD, OPPOSITION_SPREAD)
        seen = np.array([r * np.cos(beta_sun) * np.cos(offset) - 1.0, r * np.cos(beta_sun) * np.sin(offset),
                         r * np.sin(beta_sun)])  # from the Earth, which sits at (1, 0, 0) AU
        earth = rng.uniform(0, 2 * np.pi) if earth_longitude_deg is None else np.radians(earth_longitude_deg)
        lam = np.arctan2(seen[1], seen[0]) + earth
        beta = np.arcsin(seen[2] / np.linalg.norm(seen))
        ra, dec = ecliptic_to_icrs(np.degrees(lam), np.degrees(beta))
        if dec_range[0] < dec < dec_range[1]:
            return float(ra), float(dec)
