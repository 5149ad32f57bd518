"""A simulated night's alerts come from the sky ZTF (or Rubin) could observe that night.

Real alerts of a night come from the fields Palomar pointed at (the real ones here: airmass
median 1.27, 95% below 2.09), so the night's fresh supernovae are up again the next night,
from Palomar and from Cerro Pachon: the demo's follow-up rule (24 h, airmass 2) finds one
whatever the date and hour the demo or the journey test runs.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import fastavro
import numpy as np
import pytest

from classifier_service.alert import JD_TO_MJD
from classifier_service.simulate import simulate_labelled_alerts
from classifier_service.simulate.objects import SUBCLASS_RATES
from classifier_service.simulate.rubin import CERRO_PACHON, simulate_rubin_alerts
from classifier_service.simulate.sky import MAX_AIRMASS, airmass, local_sidereal_deg, sun_longitude_deg
from example_tom.demo import DEMO_RULE, last_night_mjd
from tests.browser.test_journey import N_ALERTS, SEED

MJD_EPOCH = datetime(1858, 11, 17, tzinfo=timezone.utc)
FIRST_DAY = datetime(2026, 1, 1, tzinfo=timezone.utc)
DATES = [FIRST_DAY + timedelta(days=15 * k) for k in range(25)]  # a year, every 15 days
# The journey's night takes 1.4 s to simulate: a year of it monthly, at three hours a day, is 26
# nights; a month moves the night's sky by two hours of right ascension, less than a night spans.
MONTHLY = DATES[::2]
HOURS = (2.0, 8.33, 20.0)  # UTC: before and after the Palomar night's end (08:20 once failed)
FRESH_DAYS = 1.5  # the journey's fresh SNe: first detected within a day and a half


def mjd_of(moment: datetime) -> float:
    return (moment - MJD_EPOCH).total_seconds() / 86400.0


@lru_cache(maxsize=None)
def journey_night(night: float) -> tuple[tuple[float, float, float, str], ...]:
    """(ra, dec, first detection MJD, true class) of each alert of the journey's night."""
    alerts = []
    for packet, lc_class, _ in simulate_labelled_alerts(N_ALERTS, seed=SEED, start_mjd=night, class_mix={"SN": 1}):
        record = next(fastavro.reader(io.BytesIO(packet)))
        candidate = record["candidate"]
        detected = [candidate["jd"]] + [p["jd"] for p in record["prv_candidates"] or [] if p["candid"] is not None]
        alerts.append((candidate["ra"], candidate["dec"], min(detected) - JD_TO_MJD, lc_class))
    return tuple(alerts)


def test_sidereal_time_and_the_suns_longitude_match_astropy():
    from astropy.coordinates import GeocentricTrueEcliptic, get_sun
    from astropy.time import Time

    mjd = np.array([51544.5, 60400.3, 61375.1])
    sidereal = Time(mjd, format="mjd").sidereal_time("mean", longitude=-116.865).deg
    assert np.allclose(local_sidereal_deg(mjd, -116.865), sidereal, atol=0.01)
    times = Time(mjd, format="mjd")
    sun = [get_sun(t).transform_to(GeocentricTrueEcliptic(equinox=t)).lon.deg for t in times]
    assert np.allclose([sun_longitude_deg(m) for m in mjd], sun, atol=0.02)


@pytest.mark.parametrize("day", DATES[::4], ids=lambda day: day.date().isoformat())
def test_every_alert_of_a_night_was_up_from_palomar_when_it_was_taken(day):
    night = last_night_mjd(mjd_of(day))
    for packet, _, _ in simulate_labelled_alerts(80, seed=3, start_mjd=night):
        candidate = next(fastavro.reader(io.BytesIO(packet)))["candidate"]
        assert airmass(candidate["ra"], candidate["dec"], candidate["jd"] - JD_TO_MJD) < MAX_AIRMASS


@pytest.mark.parametrize("day", DATES[2::8], ids=lambda day: day.date().isoformat())
def test_every_rubin_alert_of_a_night_was_up_from_cerro_pachon_when_it_was_taken(day):
    for packet in simulate_rubin_alerts(40, seed=3, start_mjd=mjd_of(day)):
        source = next(fastavro.reader(io.BytesIO(packet)))["diaSource"]
        assert airmass(source["ra"], source["dec"], source["midpointMjdTai"], CERRO_PACHON) < MAX_AIRMASS


def test_the_journeys_fresh_supernovae_include_one_the_demos_rule_observes_any_day_and_hour(settings):
    from facilities.followup.trigger import rule_observer
    from facilities.followup.visibility import first_window
    from facilities.models import FollowupRule

    rule = FollowupRule(**{key: value for key, value in DEMO_RULE.items() if key != "name"})
    observer = rule_observer(rule)
    unobservable = []
    for day in MONTHLY:
        for hour in HOURS:
            now = day + timedelta(hours=hour)
            fresh = {(ra, dec) for ra, dec, first, lc_class in journey_night(last_night_mjd(mjd_of(now)))
                     if lc_class in SUBCLASS_RATES["SN"] and first >= mjd_of(now) - FRESH_DAYS}
            if not any(dec < rule.max_dec and first_window(
                    observer, ra, dec, start=now, hours=rule.window_hours, max_airmass=rule.max_airmass,
                    sun_altitude_deg=rule.sun_altitude_deg, min_minutes=rule.min_window_minutes)
                       for ra, dec in sorted(fresh)):
                unobservable.append(f"{now:%Y-%m-%d %H:%M} ({len(fresh)} fresh SNe)")
    assert not unobservable, f"no fresh SN observable by the demo's rule at: {unobservable}"
