"""Simulated objects of an alert stream: what lies at a sky position and how ZTF saw it.

An object of a light-curve class (or an asteroid, or a bogus detection) is observed over the
30 days before a night and during that night; each detection of the night becomes an alert
(:mod:`packets` turns it into bytes). Identifiers follow ZTF's formats.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifier_service.alert import JD_TO_MJD
from classifier_service.simulate.cadence import (
    NIGHT_END, NIGHT_START, Observations, ObservingModel, default_model, mag_to_flux,
)
from classifier_service.simulate.candidates import epoch_fields, reference_shape
from classifier_service.simulate.lightcurves import object_metadata, place_transient, reference_source
from classifier_service.simulate.sky import ecliptic_position, sky_position, sun_longitude_deg, up_at
from classifier_service.simulate.sources import CLASSES, TRANSIENTS, Source, build_source
from classifier_service.simulate.stamps import Scene, draw_scene, scene_metadata

HISTORY_DAYS = 30.0  # ZTF packets carry 30 days of history
NID_ZERO_JD = 2457754.5  # ZTF night ids count days from here
MAX_VISITS = 4  # per object per night
MAX_OBJECT_TRIES = 300  # faint QSOs and small-amplitude stars are detected on few nights; only those alert
FRESH_TRANSIENT_FRACTION = 0.4  # supernovae first detected tonight: what the SN Hunter looks for
# Relative rates of the light-curve classes inside each stamp class of the stream. Variable
# stars in the periodic types' shares of the ZTF catalogue (Chen et al. 2020, ApJS 249, 18:
# ~350,000 eclipsing binaries, ~150,000 rotational variables, ~100,000 long-period variables,
# ~15,000 delta Scuti, RR Lyrae and Cepheids fewer), YSOs and CVs (not in it) beside them.
SUBCLASS_RATES = {
    "SN": {"SNIa": 0.7, "SNII": 0.2, "SNIbc": 0.08, "SLSN": 0.02},
    "AGN": {"QSO": 0.5, "AGN": 0.35, "Blazar": 0.15},
    "VS": {"E": 0.50, "RRL": 0.04, "LPV": 0.06, "Periodic-Other": 0.30, "DSCT": 0.03, "CEP": 0.01,
           "YSO": 0.04, "CV/Nova": 0.02},
}
STAMP_CLASS_OF = {lc: stamp for stamp, rates in SUBCLASS_RATES.items() for lc in rates}


@dataclass
class SimulatedObject:
    """One object of the run: its observations (30-day history plus tonight) and fixed context."""

    oid: str
    class_name: str  # a light-curve class, or "asteroid" / "bogus"
    stamp_class: str
    obs: Observations
    alert_rows: np.ndarray  # indices into obs of tonight's detections: one alert each
    scene: Scene
    context: dict[str, Any]  # ra, dec, PS1 fields, field/rcid, reference source...
    reference_mag: np.ndarray  # per fid, for the cutouts' template
    pids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    candids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    history_rows: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # epoch -> encoded (prv, fp)


class Ids:
    """Unique ZTF-format objectIds (ZTF + yy + 7 letters) and candids (pid * 10**6 + serial)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.oids: set[str] = set()
        self.serial = 0

    def oid(self, year: int) -> str:
        while True:
            letters = "".join(self.rng.choice(list(string.ascii_lowercase), size=7))
            oid = f"ZTF{year % 100:02d}{letters}"
            if oid not in self.oids:
                self.oids.add(oid)
                return oid

    def candids(self, pids: np.ndarray) -> np.ndarray:
        serials = (self.serial + np.arange(pids.size)) % 10**6
        self.serial += pids.size
        return pids.astype(np.int64) * 10**6 + serials


def pid_of(mjd: np.ndarray, rcid: int) -> np.ndarray:
    """ZTF processing ids: night id, exposure time within the night, readout channel."""
    jd = np.asarray(mjd) + JD_TO_MJD
    nid = np.floor(jd - NID_ZERO_JD)
    return (nid * 10**9 + np.floor((jd - NID_ZERO_JD - nid) * 10**5) * 10**4 + rcid * 10 + 5).astype(np.int64)


def _tonight_epochs(model: ObservingModel, rng: np.random.Generator, night: float) -> tuple[np.ndarray, np.ndarray]:
    """1-4 visits in tonight's filters: as many as the real alerts' visits per night."""
    bands = model.filter_sets[rng.choice(len(model.filter_sets), p=model.filter_probability)]
    n_visits = min(max(len(bands), int(round(float(model.sample("visits_per_night", rng))))), MAX_VISITS)
    bands = bands + tuple(rng.choice(bands, size=n_visits - len(bands)))
    mjd = night + np.sort(rng.uniform(NIGHT_START, NIGHT_END, size=len(bands)))
    return mjd, np.asarray(bands, dtype=np.int8)


def _epochs(model: ObservingModel, rng: np.random.Generator, night: float) -> tuple[np.ndarray, np.ndarray, int]:
    """History epochs then tonight's; returns (mjd, fid, index where tonight starts).

    How often a position is visited differs from field to field (survey programmes, grid
    overlaps, the 2018 three-night public cadence): each object keeps as many of its
    30-day epochs as a real alert's history holds (calibrated ``history_epochs``), at most all.
    """
    past_mjd, past_fid = model.epochs(rng, night - HISTORY_DAYS, night, season_phase=night - rng.uniform(60, 200))
    wanted = int(round(float(model.sample("history_epochs", rng))))
    if wanted < past_mjd.size:
        keep = np.sort(rng.choice(past_mjd.size, size=wanted, replace=False))
        past_mjd, past_fid = past_mjd[keep], past_fid[keep]
    now_mjd, now_fid = _tonight_epochs(model, rng, night)
    return np.r_[past_mjd, now_mjd], np.r_[past_fid, now_fid], past_mjd.size


def _astrophysical(class_name: str, rng: np.random.Generator, model: ObservingModel,
                   night: float, fresh: bool = False) -> tuple[Observations, int, Source] | None:
    """Observe a light-curve-class object; None when it was not detected tonight (or, when
    ``fresh``, when it was already detected before tonight)."""
    source = build_source(class_name, rng, near_threshold=True)
    mjd, fid, tonight = _epochs(model, rng, night)
    place_transient(source, mjd, rng, peak_window=(night + 5, night + 15) if fresh else (night - 20, night + 15))
    obs = model.observe(source.difference_flux(mjd, fid, rng), mjd, fid, rng, reference_flux=source.reference_flux(fid))
    if fresh and obs.detected[:tonight].any():
        return None
    return (obs, tonight, source) if obs.detected[tonight:].any() else None


def _spurious(class_name: str, rng: np.random.Generator, model: ObservingModel,
              night: float) -> tuple[Observations, int]:
    """An asteroid (one passage) or a bogus detection: nothing at the position but tonight."""
    mjd, fid, tonight = _epochs(model, rng, night)
    limits = model.limits(fid, rng)
    flux = np.zeros(mjd.size)
    recurring = class_name == "bogus" and rng.uniform() < 0.25
    hits = np.arange(tonight, mjd.size) if recurring else np.array([tonight + rng.integers(mjd.size - tonight)])
    # At least 0.75 mag above the limit: twice the 5-sigma flux, so noise rarely hides it.
    brighter = rng.uniform(0.75, 3.0 if class_name == "asteroid" else 1.3, size=hits.size)
    flux[hits] = mag_to_flux(limits[hits] - brighter)
    if class_name == "bogus":
        flux[hits] *= rng.choice([-1, 1], p=[0.3, 0.7], size=hits.size)
    return model.observe(flux, mjd, fid, rng, diffmaglim=limits), tonight


def _detected_tonight(class_name: str, rng: np.random.Generator, model: ObservingModel,
                      night: float) -> tuple[Observations, int, Source] | None:
    """An object of a light-curve class that ZTF detects tonight (only those send alerts); a
    share of the supernovae are discovered tonight, as a real night's fresh transients are."""
    fresh = class_name in TRANSIENTS and rng.uniform() < FRESH_TRANSIENT_FRACTION
    for _ in range(MAX_OBJECT_TRIES):
        outcome = _astrophysical(class_name, rng, model, night, fresh)
        if outcome is not None:
            return outcome
    return None


def _spurious_position(class_name: str, rng: np.random.Generator, night: float,
                       alert_mjd: np.ndarray) -> dict[str, float]:
    """Where an asteroid (near opposition on this date) or a bogus detection lies: a field
    ZTF observed at the alerts' times."""
    if class_name == "asteroid":
        earth = sun_longitude_deg(night) + 180.0
        ra, dec = up_at(lambda: ecliptic_position(rng, earth), alert_mjd)
    else:
        ra, dec, _ = up_at(lambda: sky_position(rng, galactic=False), alert_mjd)
    return {"ra": ra, "dec": dec}


def simulate_object(class_name: str, rng: np.random.Generator, ids: Ids, night: float,
                    model: ObservingModel | None = None) -> SimulatedObject:
    """One object observed over its 30-day history and tonight, with at least one alert tonight.

    ``class_name`` is a light-curve class, "asteroid" or "bogus". A variable too faint to be
    detected in ``MAX_OBJECT_TRIES`` draws is replaced by a bogus detection (and labelled so).
    """
    model = model or default_model()
    outcome = _detected_tonight(class_name, rng, model, night) if class_name in CLASSES else None
    if outcome is None:
        class_name = stamp_class = class_name if class_name == "asteroid" else "bogus"
        obs, tonight = _spurious(class_name, rng, model, night)
        while not obs.detected[tonight:].any():  # noise hid it (rare): the stream only has detections
            obs, tonight = _spurious(class_name, rng, model, night)
        alert_rows = np.flatnonzero(obs.detected[tonight:]) + tonight
        scene = draw_scene(stamp_class, rng, observing=model)
        context = scene_metadata(scene, rng, observing=model)
        context.update(_spurious_position(class_name, rng, night, obs.mjd[alert_rows]))
        reference_mag = np.full(4, np.inf)
    else:
        stamp_class = STAMP_CLASS_OF[class_name]
        obs, tonight, source = outcome
        alert_rows = np.flatnonzero(obs.detected[tonight:]) + tonight
        reference_mag = source.reference_mag
        distnr, magnr, sigmagnr = reference_source(source, rng)
        host_mag = source.host_mag if source.host in ("offset", "nuclear") else None
        scene = draw_scene(stamp_class, rng, science_mag=np.inf, template_mag=np.inf, host_mag=host_mag,
                           observing=model)
        context = scene_metadata(scene, rng, observing=model)
        context.update(object_metadata(source, rng, up_at_mjd=obs.mjd[alert_rows]))
        context.update(reference_shape(source.host, rng, model))
        # Real sources' deep real-bogus scores span the real alerts' whole distribution
        # (a quarter of labelled stars and AGN score below 0.83), not only its top.
        context.update(distnr=distnr, magnr_by_fid=magnr, sigmagnr=sigmagnr,
                       drb=float(model.sample("drb", rng, between=(0.0, 1.0))))
    context["epoch_fields"] = epoch_fields(np.nan_to_num(obs.diffmaglim - obs.magpsf), context["fwhm"], rng, model)
    detected_mjd = obs.mjd[obs.detected]
    new_source = stamp_class in ("SN", "asteroid", "bogus")
    # Variables and AGN were first detected days to years ago (real alerts on stars and nuclei),
    # never after their first detection in the history; those known for longer than the history
    # were detected now and then before it, at the rate of the real ones.
    age = float(model.sample("known_sources", rng, key="age_days"))
    if new_source or night - age > detected_mjd.min():
        first_mjd, older = float(detected_mjd.min()), 0
    else:
        first_mjd = night - age
        older = (max(int(age * model.sample("known_sources", rng, key="detections_per_day")), 1)
                 if age > HISTORY_DAYS else 0)
    context.update(field=int(rng.integers(245, 880)), rcid=int(rng.integers(0, 64)), first_mjd=float(first_mjd),
                   older_detections=older,
                   rfid_offset=int(rng.integers(100, 999)),
                   xpos=float(rng.uniform(30, 3050)), ypos=float(rng.uniform(30, 3050)))
    year = 2000 + int((first_mjd + JD_TO_MJD - 2451544.5) // 365.25)
    return SimulatedObject(ids.oid(year), class_name, stamp_class, obs, alert_rows, scene, context, reference_mag)


