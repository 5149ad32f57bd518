"""Simulated ZTF alert packets (schema 4.02) for the demo, the benchmarks and the tests.

Objects — supernovae, variable stars, AGN (drawn from the light-curve classes), asteroids and
bogus detections — are observed over the simulated night(s) on ZTF's cadence; every
detection of the night becomes one alert carrying its 30-day history (``prv_candidates``:
earlier detections and upper limits), forced photometry (``fp_hists``) and three gzipped
FITS cutouts. Packets come out in time order, each a one-record Avro container like ZTF's.
"""
from __future__ import annotations

import io
import string
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import fastavro
import numpy as np

from classifier_service.alert import JD_TO_MJD
from classifier_service.simulate.cadence import (
    FLUX_ZP, NIGHT_END, NIGHT_START, Observations, ObservingModel, default_model, flux_to_mag, mag_to_flux,
)
from classifier_service.simulate.fits import gzipped_fits
from classifier_service.simulate.lightcurves import object_metadata, place_transient, reference_source
from classifier_service.simulate.schema import (
    CANDIDATE, FP_HIST, PRV_CANDIDATE, SCHEMA_VERSION, UNION_SECOND, encode_bytes, encode_optional_array,
    encode_sub_record, field_names, parsed_alert_schema, zigzag,
)
from classifier_service.simulate.sources import CLASSES, Source, build_source
from classifier_service.simulate.stamps import STAMP_CLASSES, Scene, draw_scene, render, scene_metadata

HISTORY_DAYS = 30.0  # ZTF packets carry 30 days of history
DEFAULT_START_MJD = 60400.0
ALERTS_PER_NIGHT = 50_000
NID_ZERO_JD = 2457754.5  # ZTF night ids count days from here
PUBLISHER = "alerce-classifier simulate"
MAX_OBJECT_TRIES = 100  # faint QSOs are detected on few nights; only detected ones alert
SYNC_MARKER = b"ZTF-sim-alert-01"  # 16 bytes

DEFAULT_MIX = {"SN": 0.2, "VS": 0.35, "AGN": 0.15, "asteroid": 0.15, "bogus": 0.15}
# Relative rates of the light-curve classes inside each stamp class of the stream.
SUBCLASS_RATES = {
    "SN": {"SNIa": 0.7, "SNII": 0.2, "SNIbc": 0.08, "SLSN": 0.02},
    "AGN": {"QSO": 0.5, "AGN": 0.35, "Blazar": 0.15},
    "VS": {"E": 0.25, "RRL": 0.12, "LPV": 0.15, "Periodic-Other": 0.2, "DSCT": 0.05, "CEP": 0.05,
           "YSO": 0.12, "CV/Nova": 0.06},
}
STAMP_CLASS_OF = {lc: stamp for stamp, rates in SUBCLASS_RATES.items() for lc in rates}

_CANDIDATE_BLANK = dict.fromkeys(field_names(CANDIDATE))
_PRV_BLANK = dict.fromkeys(field_names(PRV_CANDIDATE))
_FP_BLANK = dict.fromkeys(field_names(FP_HIST))


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


def class_sampler(class_mix: dict[str, float] | None) -> tuple[list[str], np.ndarray]:
    """Expand a mix over stamp and/or light-curve classes into light-curve-level probabilities."""
    mix = class_mix or DEFAULT_MIX
    names, weights = [], []
    for key, weight in mix.items():
        if key in SUBCLASS_RATES:
            for name, rate in SUBCLASS_RATES[key].items():
                names.append(name)
                weights.append(weight * rate)
        elif key in CLASSES or key in ("asteroid", "bogus"):
            names.append(key)
            weights.append(weight)
        else:
            raise ValueError(f"unknown class {key!r} in class_mix; use {STAMP_CLASSES} or {CLASSES}")
    probability = np.asarray(weights, dtype=float)
    if probability.sum() <= 0:
        raise ValueError("class_mix weights must sum to a positive number")
    return names, probability / probability.sum()


class _Ids:
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
    """1-4 visits in tonight's filters (the survey revisits fields within a night)."""
    bands = model.filter_sets[rng.choice(len(model.filter_sets), p=model.filter_probability)]
    if rng.uniform() < 0.4:
        bands = bands + (bands[rng.integers(len(bands))],)
    mjd = night + np.sort(rng.uniform(NIGHT_START, NIGHT_END, size=len(bands)))
    return mjd, np.asarray(bands, dtype=np.int8)


def _epochs(model: ObservingModel, rng: np.random.Generator, night: float) -> tuple[np.ndarray, np.ndarray, int]:
    """History epochs then tonight's; returns (mjd, fid, index where tonight starts)."""
    past_mjd, past_fid = model.epochs(rng, night - HISTORY_DAYS, night, season_phase=night - rng.uniform(60, 200))
    now_mjd, now_fid = _tonight_epochs(model, rng, night)
    return np.r_[past_mjd, now_mjd], np.r_[past_fid, now_fid], past_mjd.size


def _astrophysical(class_name: str, rng: np.random.Generator, model: ObservingModel,
                   night: float) -> tuple[Observations, int, Source] | None:
    """Observe a light-curve-class object; None when it was not detected tonight."""
    source = build_source(class_name, rng)
    mjd, fid, tonight = _epochs(model, rng, night)
    place_transient(source, mjd, rng, peak_window=(night - 20, night + 15))
    obs = model.observe(source.difference_flux(mjd, fid, rng), mjd, fid, rng)
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
    """An object of a light-curve class that ZTF detects tonight (only those send alerts)."""
    for _ in range(MAX_OBJECT_TRIES):
        outcome = _astrophysical(class_name, rng, model, night)
        if outcome is not None:
            return outcome
    return None


def simulate_object(class_name: str, rng: np.random.Generator, ids: _Ids, night: float,
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
        scene = draw_scene(stamp_class, rng, observing=model)
        context = scene_metadata(scene, rng, observing=model)
        reference_mag = np.full(4, np.inf)
    else:
        stamp_class = STAMP_CLASS_OF[class_name]
        obs, tonight, source = outcome
        reference_mag = source.reference_mag
        distnr, magnr, sigmagnr = reference_source(source, rng)
        host_mag = source.host_mag if source.host in ("offset", "nuclear") else None
        scene = draw_scene(stamp_class, rng, science_mag=np.inf, template_mag=np.inf, host_mag=host_mag,
                           observing=model)
        context = scene_metadata(scene, rng, observing=model)
        context.update(object_metadata(source, rng))
        context.update(distnr=distnr, magnr_by_fid=magnr, sigmagnr=sigmagnr)
    alert_rows = np.flatnonzero(obs.detected[tonight:]) + tonight
    detected_mjd = obs.mjd[obs.detected]
    new_source = stamp_class in ("SN", "asteroid", "bogus")
    first_mjd = detected_mjd.min() if new_source else night - rng.uniform(100, 2000)  # variables: known for years
    context.update(field=int(rng.integers(245, 880)), rcid=int(rng.integers(0, 64)), first_mjd=float(first_mjd),
                   older_detections=0 if new_source else int(rng.integers(5, 400)),
                   rfid_offset=int(rng.integers(100, 999)),
                   xpos=float(rng.uniform(30, 3050)), ypos=float(rng.uniform(30, 3050)))
    year = 2000 + int((first_mjd + JD_TO_MJD - 2451544.5) // 365.25)
    return SimulatedObject(ids.oid(year), class_name, stamp_class, obs, alert_rows, scene, context, reference_mag)


# --- packet assembly -----------------------------------------------------------------------

def _f(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _photometry_row(obj: SimulatedObject, i: int, candid: int | None, template: dict[str, Any]) -> dict[str, Any]:
    """The fields a candidate and a prv_candidate share, for epoch ``i`` of an object."""
    obs, ctx = obj.obs, obj.context
    fid = int(obs.fid[i])
    pid = int(obj.pids[i])
    row = dict(template)
    row.update(
        jd=float(obs.mjd[i] + JD_TO_MJD), fid=fid, pid=pid, diffmaglim=float(obs.diffmaglim[i]),
        programid=1, programpi="Kulkarni", nid=int(pid // 10**9), rcid=ctx["rcid"], field=ctx["field"],
        pdiffimfilename=(f"ztf_{pid}_{ctx['field']:06d}_z{'xgri'[fid]}_c{ctx['rcid'] // 4 + 1:02d}"
                         f"_o_q{ctx['rcid'] % 4 + 1}_scimrefdiffimg.fits"),
        magzpsci=26.0 + 0.1 * (fid == 1), rbversion="t17_f5_c3",
    )
    if obs.detected[i]:
        magnr = ctx.get("magnr_by_fid")
        row.update(
            candid=candid, isdiffpos="t" if obs.isdiffpos[i] > 0 else "f", ra=ctx["ra"], dec=ctx["dec"],
            magpsf=float(obs.magpsf[i]), sigmapsf=float(obs.sigmapsf[i]),
            magap=float(obs.magpsf[i] + 0.03), sigmagap=float(obs.sigmapsf[i] * 1.2),
            distnr=_f(ctx["distnr"]), magnr=_f(magnr[fid]) if magnr is not None else _f(ctx.get("magnr")),
            sigmagnr=_f(ctx.get("sigmagnr")), chinr=ctx["chinr"], sharpnr=ctx["sharpnr"],
            fwhm=ctx["fwhm"], classtar=ctx["classtar"], elong=ctx["elong"], nbad=ctx["nbad"], nneg=0,
            rb=ctx["rb"], ssdistnr=ctx["ssdistnr"], ssmagnr=ctx["ssmagnr"], ssnamenr=ctx["ssnamenr"],
            ranr=ctx["ra"], decnr=ctx["dec"], scorr=float(5 * 10 ** (0.4 * (obs.diffmaglim[i] - obs.magpsf[i]))),
            xpos=ctx["xpos"], ypos=ctx["ypos"], magfromlim=float(obs.diffmaglim[i] - obs.magpsf[i]),
        )
    return row


def _candidate(obj: SimulatedObject, i: int, candid: int) -> dict[str, Any]:
    ctx, jd = obj.context, float(obj.obs.mjd[i] + JD_TO_MJD)
    row = _photometry_row(obj, i, candid, _CANDIDATE_BLANK)
    detected_before = int(obj.obs.detected[:i + 1].sum())
    row.update(
        tblid=candid % 1000, drb=ctx["drb"], drbversion="d6_m7", tooflag=0, nmtchps=3, nmatches=400,
        ndethist=ctx["older_detections"] + detected_before,
        ncovhist=ctx["older_detections"] + detected_before + int(ctx["ncovhist"]),
        jdstarthist=ctx["first_mjd"] + JD_TO_MJD, jdendhist=jd,
        rfid=int(ctx["field"] * 10**6 + 120 * 10**3 + ctx["rcid"] * 10 + row["fid"]),
        jdstartref=jd - 1500.0, jdendref=jd - 1400.0, nframesref=ctx["rfid_offset"] % 30 + 15,
        exptime=30.0, neargaia=ctx["distpsnr1"] if obj.stamp_class == "VS" else None,
        maggaia=ctx["srmag1"] if obj.stamp_class == "VS" else None,
        **{key: ctx[key] for key in ("sgscore1", "sgscore2", "sgscore3", "distpsnr1", "distpsnr2", "distpsnr3",
                                     "sgmag1", "srmag1", "simag1", "szmag1", "sgmag2", "srmag2", "simag2",
                                     "szmag2", "sgmag3", "srmag3", "simag3", "szmag3")},
    )
    return row


def _fp_hist(obj: SimulatedObject, i: int) -> dict[str, Any]:
    """Forced photometry at the object's position on an earlier epoch, in DN for the zero point."""
    obs, ctx = obj.obs, obj.context
    fid = int(obs.fid[i])
    zero_point = 26.0 + 0.1 * (fid == 1)
    to_dn = 10 ** (0.4 * (zero_point - FLUX_ZP))
    row = dict(_FP_BLANK)
    row.update(
        field=ctx["field"], rcid=ctx["rcid"], fid=fid, pid=int(obj.pids[i]),
        rfid=int(ctx["field"] * 10**6 + 120 * 10**3 + ctx["rcid"] * 10 + fid), programid=1,
        jd=float(obs.mjd[i] + JD_TO_MJD), diffmaglim=float(obs.diffmaglim[i]), magzpsci=zero_point,
        forcediffimflux=float(obs.flux[i] * to_dn), forcediffimfluxunc=float(obs.flux_err[i] * to_dn),
        procstatus="0", exptime=30.0, sciinpseeing=ctx["fwhm"], ranr=ctx["ra"], decnr=ctx["dec"],
        distnr=_f(ctx["distnr"]),
    )
    return row


def _cutouts(obj: SimulatedObject, i: int, candid: int, pid: int, rng: np.random.Generator) -> list[bytes]:
    """The encoded cutoutScience, cutoutTemplate and cutoutDifference of epoch i's alert."""
    fid = int(obj.obs.fid[i])
    template_mag = float(obj.reference_mag[fid])
    total_flux = (mag_to_flux(template_mag) if np.isfinite(template_mag) else 0.0) + obj.obs.flux[i]
    science_mag = float(flux_to_mag(total_flux)) if total_flux > 0 else np.inf
    if obj.class_name == "bogus":  # its artefacts, not the photometry, make the stamp
        scene = obj.scene
    else:
        scene = replace(obj.scene, science_flux=obj.scene.mag_to_adu(science_mag),
                        template_flux=obj.scene.mag_to_adu(template_mag))
    scene = replace(scene, fwhm=float(obj.context["fwhm"] * rng.uniform(0.9, 1.1)))
    images = render(scene, rng)
    names = (f"candid{candid}_pid{pid}_targ_sci.fits.gz", f"candid{candid}_ref.fits.gz",
             f"candid{candid}_pid{pid}_targ_scimref.fits.gz")
    return [UNION_SECOND + encode_bytes(name) + encode_bytes(gzipped_fits(image)) for name, image in zip(names, images)]


def _history_rows(obj: SimulatedObject, j: int) -> tuple[bytes, bytes]:
    """Encoded prv_candidate and fp_hist of epoch j: the same in every later alert of the object."""
    if j not in obj.history_rows:
        prv = _photometry_row(obj, j, int(obj.candids[j]), _PRV_BLANK)
        obj.history_rows[j] = (encode_sub_record("prv_candidate", prv), encode_sub_record("fp_hist", _fp_hist(obj, j)))
    return obj.history_rows[j]


def encode_alert(obj: SimulatedObject, k: int, rng: np.random.Generator) -> bytes:
    """The object's k-th detection tonight as an Avro container holding one 4.02 alert.

    The record is assembled from separately encoded parts so that history rows, shared by
    an object's successive alerts, are encoded once; the container header (schema, fixed
    sync marker for reproducible runs) is built once per process.
    """
    i = int(obj.alert_rows[k])
    candid = int(obj.candids[i])
    candidate = _candidate(obj, i, candid)
    window = np.flatnonzero((obj.obs.mjd < obj.obs.mjd[i]) & (obj.obs.mjd >= obj.obs.mjd[i] - HISTORY_DAYS))
    history = [_history_rows(obj, int(j)) for j in window]
    data = b"".join([
        encode_bytes(SCHEMA_VERSION), encode_bytes(PUBLISHER), encode_bytes(obj.oid), zigzag(candid),
        encode_sub_record("candidate", candidate),
        encode_optional_array([prv for prv, _ in history]),
        encode_optional_array([fp for _, fp in history]),
        *_cutouts(obj, i, candid, candidate["pid"], rng),
    ])
    header, sync = _container_header()
    return b"".join((header, zigzag(1), zigzag(len(data)), data, sync))


def merge_containers(packets: list[bytes]) -> bytes:
    """Packets from :func:`encode_alert` as one Avro file: the shared header, then every block."""
    header, _ = _container_header()
    if not all(packet.startswith(header) for packet in packets):
        raise ValueError("only packets written by encode_alert can be merged")
    return header + b"".join(packet[len(header):] for packet in packets)


@lru_cache(maxsize=1)
def _container_header() -> tuple[bytes, bytes]:
    """Magic, metadata (schema and null codec) and sync marker of an Avro object container."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, parsed_alert_schema(), [], codec="null", sync_marker=SYNC_MARKER)
    return buffer.getvalue(), SYNC_MARKER


def plan_objects(n_alerts: int, rng: np.random.Generator, start_mjd: float,
                 class_mix: dict[str, float] | None = None) -> list[SimulatedObject]:
    """Objects whose detections over the night(s) add up to ``n_alerts`` alerts."""
    names, probability = class_sampler(class_mix)
    n_nights = 1 + (n_alerts - 1) // ALERTS_PER_NIGHT if n_alerts > 0 else 0
    ids, model = _Ids(rng), default_model()
    objects, total = [], 0
    while total < n_alerts:
        night = float(np.floor(start_mjd) + rng.integers(n_nights))
        obj = simulate_object(names[rng.choice(len(names), p=probability)], rng, ids, night, model)
        obj.alert_rows = obj.alert_rows[: n_alerts - total]
        obj.pids = pid_of(obj.obs.mjd, obj.context["rcid"])
        obj.candids = ids.candids(obj.pids)
        total += obj.alert_rows.size
        objects.append(obj)
    return objects


def simulate_labelled_alerts(n_alerts: int, *, seed: int = 0, start_mjd: float | None = None,
                             class_mix: dict[str, float] | None = None) -> Iterator[tuple[bytes, str, str]]:
    """Like :func:`simulate_alert_packets`, with each packet's truth: (packet, light-curve class
    or "asteroid"/"bogus", stamp class) — for evaluating classifiers on simulated streams."""
    if n_alerts < 0:
        raise ValueError("n_alerts must be >= 0")
    rng = np.random.default_rng(seed)
    objects = plan_objects(n_alerts, rng, DEFAULT_START_MJD if start_mjd is None else start_mjd, class_mix)
    schedule = sorted((obj.obs.mjd[row], n, k) for n, obj in enumerate(objects) for k, row in enumerate(obj.alert_rows))
    for _, n, k in schedule:
        yield encode_alert(objects[n], k, rng), objects[n].class_name, objects[n].stamp_class


def simulate_alert_packets(n_alerts: int, *, seed: int = 0, start_mjd: float | None = None,
                           class_mix: dict[str, float] | None = None) -> Iterator[bytes]:
    """``n_alerts`` ZTF 4.02 alert packets in time order, each an Avro container of one alert.

    ``class_mix`` weighs stamp classes (SN, VS, AGN, asteroid, bogus) and/or light-curve
    classes (SNIa, RRL, ...); the same seed gives the same packets.
    """
    for packet, _, _ in simulate_labelled_alerts(n_alerts, seed=seed, start_mjd=start_mjd, class_mix=class_mix):
        yield packet
