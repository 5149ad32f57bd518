"""When a target can be observed from a site: above an airmass limit while the Sun is down.

Pure astronomy over time grids (astroplan/astropy), no Django. Sites are given by
coordinates, not looked up online: astropy's site registry downloads its list, and
nothing here may reach the network. IERS tables are likewise never fetched; the
bundled ones are accurate far beyond what a visibility window needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import astropy.units as u
import numpy as np
from astroplan import FixedTarget, Observer
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers

iers.conf.auto_download = False
iers.conf.auto_max_age = None

# Longitude and latitude in degrees, height in metres (the observatories' published values).
KNOWN_SITES: dict[str, tuple[float, float, float]] = {
    "Cerro Pachon": (-70.7367, -30.2407, 2715.0),  # Rubin, Gemini South, SOAR
    "Cerro Tololo": (-70.8049, -30.1691, 2207.0),  # CTIO, LCO 1-m
    "La Silla": (-70.7346, -29.2563, 2347.0),
    "Paranal": (-70.4045, -24.6272, 2635.0),
    "Las Campanas": (-70.6919, -29.0146, 2380.0),
    "Palomar": (-116.8650, 33.3563, 1712.0),  # ZTF
}

STEP_MINUTES = 10


@dataclass(frozen=True)
class VisibilityWindow:
    start: datetime
    end: datetime
    min_airmass: float

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def site_observer(name: str, extra_sites: dict[str, tuple[float, float, float]] | None = None) -> Observer:
    sites = {**KNOWN_SITES, **(extra_sites or {})}
    try:
        lon, lat, height = sites[name]
    except KeyError:
        raise ValueError(f"unknown site {name!r}; known: {', '.join(sorted(sites))}") from None
    location = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, height * u.m)
    return Observer(location=location, name=name)


def airmass_curve(observer: Observer, ra: float, dec: float, start: datetime, hours: float,
                  step_minutes: float = STEP_MINUTES) -> tuple[Time, np.ndarray, np.ndarray]:
    """Times, the target's airmass (inf below the horizon) and the Sun's altitude in degrees."""
    times = Time(start) + np.arange(0, hours * 60 + step_minutes, step_minutes) * u.min
    target = FixedTarget(SkyCoord(ra * u.deg, dec * u.deg), name="target")
    altitude = observer.altaz(times, target).alt.deg
    sun_altitude = observer.sun_altaz(times).alt.deg
    with np.errstate(divide="ignore", invalid="ignore"):
        airmass = np.where(altitude > 0, 1.0 / np.sin(np.radians(altitude)), np.inf)
    return times, airmass, sun_altitude


def first_window(observer: Observer, ra: float, dec: float, *, start: datetime | None = None,
                 hours: float = 24.0, max_airmass: float = 2.0, sun_altitude_deg: float = -12.0,
                 min_minutes: float = 30.0) -> VisibilityWindow | None:
    """The first stretch within ``hours`` when the target is below ``max_airmass`` in darkness."""
    curve = airmass_curve(observer, ra, dec, start or datetime.now(timezone.utc), hours)
    return window_in(*curve, max_airmass=max_airmass, sun_altitude_deg=sun_altitude_deg, min_minutes=min_minutes)


def window_in(times: Time, airmass: np.ndarray, sun: np.ndarray, *, max_airmass: float,
              sun_altitude_deg: float, min_minutes: float) -> VisibilityWindow | None:
    """The first long-enough stretch of an :func:`airmass_curve` below ``max_airmass`` in darkness."""
    good = (airmass <= max_airmass) & (sun <= sun_altitude_deg)
    for run_start, run_end in runs(good):
        window = VisibilityWindow(
            start=times[run_start].to_datetime(timezone=timezone.utc),
            end=times[run_end].to_datetime(timezone=timezone.utc),
            min_airmass=float(airmass[run_start:run_end + 1].min()),
        )
        if window.minutes >= min_minutes:
            return window
    return None


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [start, end] of consecutive True values."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]
