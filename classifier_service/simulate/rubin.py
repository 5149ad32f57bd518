"""A simulated Rubin night: the ZTF simulator's physical sources observed through Rubin.

The same objects (:mod:`sources`: supernovae, variable stars, AGN; asteroids and bogus
detections) are seen with Rubin's eyes: six bands u g r i z y, single-visit 5-sigma depths
of ~22.4-24.9 mag, a wide-fast-deep field revisited every few nights in a pair of bands a
half hour apart, observing seasons of about seven months, and up to a year of history in
every packet (``prvDiaSources`` and ``prvDiaForcedSources``, as Rubin sends). Difference
fluxes are nJy (AB zero point 31.4); cutouts are 30x30 pixels of 0.2 arcsec, float32
multi-extension FITS (image, variance, PSF) like the real v10 alerts. Solar-system sources
come as Rubin sends them: a diaSource with an ``ssObjectId`` and an ``ssSource``, no
diaObject and no history.

What is simulated and how roughly: depths are the LSST science requirements' medians with
a 0.3 mag scatter (no moon, airmass or weather dependence); cadence is a simplified
wide-fast-deep (a visit pair every 1-7 nights in season); reliability and extendedness are
drawn per kind of source, not measured on the stamps.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import fastavro
import numpy as np

from alerce_contract.bands import FID_OF_BAND, NJY_ZERO_POINT
from classifier_service.coordinates import icrs_to_ecliptic, icrs_to_galactic
from classifier_service.simulate.alerts import class_sampler
from classifier_service.simulate.cadence import YEAR
from classifier_service.simulate.fits import multi_extension_fits
from classifier_service.simulate.lightcurves import place_transient
from classifier_service.simulate.schema import avro_fields
from classifier_service.simulate.objects import FRESH_TRANSIENT_FRACTION, MAX_OBJECT_TRIES, STAMP_CLASS_OF
from classifier_service.simulate.sky import ecliptic_position, sky_position, sun_longitude_deg, up_at
from classifier_service.simulate.sources import CLASSES, TRANSIENTS, build_source
from classifier_service.simulate.stamps import Host, Scene, _bogus_artefacts, _grid, moffat, render

SCHEMA_VERSION = "11.0"
SYNC_MARKER = b"Rubin-sim-alert1"  # fixed, so the same seed gives the same bytes and files merge
UJY_TO_NJY = 1000.0  # sources.py models fluxes in microjansky
BANDS = ("u", "g", "r", "i", "z", "y")
# Median single-visit (30 s) 5-sigma point-source depths, LSST SRD / Bianco et al. 2022.
DEPTH = {"u": 23.7, "g": 24.9, "r": 24.4, "i": 23.9, "z": 23.3, "y": 22.4}
DEPTH_SCATTER = 0.3
# The band pairs of a night's two visits (wide-fast-deep), with their rough frequencies.
PAIRS = (("g", "r"), ("r", "i"), ("i", "z"), ("z", "y"), ("u", "g"), ("u", "r"), ("g", "i"), ("r", "z"))
PAIR_WEIGHTS = np.array([0.2, 0.2, 0.15, 0.12, 0.06, 0.05, 0.12, 0.1])
PAIR_GAP_DAYS = 33.0 / 1440.0
NIGHT_START, NIGHT_END = 0.0, 0.40  # Cerro Pachón night in fractional UTC MJD
CERRO_PACHON = (-70.7367, -30.2407)  # east longitude, latitude (degrees)
DEC_RANGE = (-90.0, 30.0)  # the survey's declinations, the northern ecliptic spur included
SEASON_DAYS = 210.0
HISTORY_DAYS = 365.0  # Rubin packets carry 12 months of history
DETECTION_SNR = 5.0
PIXEL_SCALE = 0.2  # arcsec per LSSTCam pixel
CUTOUT_SIZE = (30, 30)
PSF_SIZE = (41, 41)
SEEING = (0.55, 1.3)  # arcsec, the site's range of delivered image quality
TEMPLATE_DEPTH = 20.0  # coadded templates: noise lower by ~sqrt(20)
DEFAULT_START_MJD = 61100.0  # March 2026, the real alerts' epoch
DEFAULT_MIX = {"SN": 0.2, "VS": 0.35, "AGN": 0.15, "asteroid": 0.15, "bogus": 0.15}
MAX_ALERT_ROWS = 1000  # prvDiaSources/prvDiaForcedSources kept per packet


# The fields written, under Rubin's names and types (lsst.v11_0; v10 reads them too: its
# nullable ints accept v11's plain ones). Every field either schema requires is here.
DIA_SOURCE = """diaSourceId:l visit:l detector:i diaObjectId:l? ssObjectId:l? midpointMjdTai:d ra:d raErr:f?
dec:d decErr:f? x:f y:f psfFlux:f? psfFluxErr:f? psfNdata:i snr:f? trailNdata:i dipoleNdata:i
scienceFlux:f? scienceFluxErr:f? templateFlux:f? extendedness:f? reliability:f? band:s?
isNegative:b? timeProcessedMjdTai:d bboxSize:i"""
DIA_OBJECT = """diaObjectId:l validityStartMjdTai:d ra:d dec:d u_psfFluxNdata:i g_psfFluxNdata:i
r_psfFluxNdata:i i_psfFluxNdata:i z_psfFluxNdata:i y_psfFluxNdata:i nDiaSources:i
firstDiaSourceMjdTai:d? lastDiaSourceMjdTai:d?"""
DIA_FORCED_SOURCE = """diaForcedSourceId:l diaObjectId:l ra:d dec:d visit:l detector:i midpointMjdTai:d
psfFlux:f? psfFluxErr:f? scienceFlux:f? scienceFluxErr:f? band:s? timeProcessedMjdTai:d"""
SS_SOURCE = """diaSourceId:l ssObjectId:l designation:s? eclLambda:d eclBeta:d galLon:d galLat:d
ephOffset:f?"""
MPC_ORBITS = "id:i designation:s packed_primary_provisional_designation:s unpacked_primary_provisional_designation:s"


def writer_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The simulator's writer schema, namespace lsst.v<major>_<minor> of ``version``."""
    ns = "lsst.v" + version.replace(".", "_")

    def record(name: str, spec: str) -> dict[str, Any]:
        return {"type": "record", "name": name, "namespace": ns, "fields": avro_fields(spec)}

    def optional(kind: Any) -> dict[str, Any]:
        return {"type": ["null", kind], "default": None}

    return {"type": "record", "name": "alert", "namespace": ns, "fields": [
        {"name": "diaSourceId", "type": "long"},
        {"name": "observation_reason", **optional("string")},
        {"name": "target_name", **optional("string")},
        {"name": "diaSource", "type": record("diaSource", DIA_SOURCE)},
        {"name": "prvDiaSources", **optional({"type": "array", "items": f"{ns}.diaSource"})},
        {"name": "prvDiaForcedSources",
         **optional({"type": "array", "items": record("diaForcedSource", DIA_FORCED_SOURCE)})},
        {"name": "diaObject", **optional(record("diaObject", DIA_OBJECT))},
        {"name": "ssSource", **optional(record("ssSource", SS_SOURCE))},
        {"name": "mpc_orbits", **optional(record("mpc_orbits", MPC_ORBITS))},
        {"name": "cutoutDifference", **optional("bytes")},
        {"name": "cutoutScience", **optional("bytes")},
        {"name": "cutoutTemplate", **optional("bytes")},
    ]}


# --- observing ---------------------------------------------------------------------------

def njy(mag: np.ndarray | float) -> np.ndarray:
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=float) - NJY_ZERO_POINT))


def epochs(rng: np.random.Generator, start: float, end: float, season_start: float) -> tuple[np.ndarray, np.ndarray]:
    """(mjd, band) of one field's visits in [start, end): a pair of bands every 1-7 nights
    while the field is in season (SEASON_DAYS of each year from ``season_start``)."""
    mjd, band = [], []
    night = np.floor(start) + rng.integers(0, 3)
    while night < end:
        if (night - season_start) % YEAR < SEASON_DAYS:
            pair = PAIRS[rng.choice(len(PAIRS), p=PAIR_WEIGHTS / PAIR_WEIGHTS.sum())]
            first = night + rng.uniform(NIGHT_START, NIGHT_END - PAIR_GAP_DAYS)
            mjd += [first, first + PAIR_GAP_DAYS * rng.uniform(0.8, 1.5)]
            band += list(pair)
        night += 1 + rng.geometric(0.35)
    keep = (np.asarray(mjd) >= start) & (np.asarray(mjd) < end) if mjd else np.zeros(0, bool)
    return np.asarray(mjd)[keep], np.asarray(band, dtype="<U1")[keep]


def tonight(rng: np.random.Generator, night: float) -> tuple[np.ndarray, np.ndarray]:
    """Tonight's visit pair of the field (and now and then a third visit)."""
    pair = list(PAIRS[rng.choice(len(PAIRS), p=PAIR_WEIGHTS / PAIR_WEIGHTS.sum())])
    first = night + rng.uniform(NIGHT_START, NIGHT_END - 3 * PAIR_GAP_DAYS)
    mjd = [first, first + PAIR_GAP_DAYS]
    if rng.uniform() < 0.15:
        mjd.append(first + rng.uniform(2, 3) * PAIR_GAP_DAYS)
        pair.append(pair[-1])
    return np.asarray(mjd), np.asarray(pair, dtype="<U1")


@dataclass
class Photometry:
    """Difference photometry in nJy at every epoch; detected where |flux| >= 5 sigma."""

    mjd: np.ndarray
    band: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    depth: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        return np.abs(self.flux) >= DETECTION_SNR * self.flux_err


def observe(true_flux_njy: np.ndarray, mjd: np.ndarray, band: np.ndarray, rng: np.random.Generator) -> Photometry:
    depth = np.array([DEPTH[b] for b in band]) + rng.normal(0, DEPTH_SCATTER, size=band.size)
    err = njy(depth) / DETECTION_SNR
    err = np.sqrt(err**2 + (0.01 * np.abs(true_flux_njy)) ** 2)  # calibration floor for bright sources
    return Photometry(mjd, band, true_flux_njy + rng.normal(size=mjd.size) * err, err, depth)


# --- objects -----------------------------------------------------------------------------

@dataclass
class RubinObject:
    """One object of the night: all its visits in the history window and tonight."""

    class_name: str  # a light-curve class, "asteroid" or "bogus"
    stamp_class: str
    phot: Photometry
    alert_rows: np.ndarray  # tonight's detections, one alert each
    ra: float
    dec: float
    reference_njy: dict[str, float]  # what the template holds at the position, per band
    scene: Scene
    dia_object_id: int | None
    ss_object_id: int | None = None
    detector: int = 0
    reliability: float = 0.9
    extendedness: float = 0.0
    source_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    forced_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


class RubinIds:
    """Unique 64-bit diaObject, diaSource, diaForcedSource and ssObject ids (Rubin-sized)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.next = int(170_000_000_000_000_000 + rng.integers(0, 10**15)) // 1000 * 1000

    def take(self, n: int = 1) -> np.ndarray:
        ids = self.next + np.arange(n, dtype=np.int64) * 7
        self.next += 7 * n + 1
        return ids


def visit_id(mjd: float, serial: int) -> int:
    """Rubin visit ids: the observing day (YYYYMMDD, UTC-12) and a 5-digit sequence number."""
    day = datetime(1858, 11, 17, tzinfo=timezone.utc) + timedelta(days=float(mjd) - 0.5)
    return int(day.strftime("%Y%m%d")) * 100_000 + serial % 100_000


def position(rng: np.random.Generator, galactic: bool) -> tuple[float, float]:
    """Rubin's sky: stars at the latitudes of GCVS's variable stars, the rest beyond |b| 15 deg
    (as ZTF's, :func:`sky_position`), within the survey's declinations."""
    ra, dec, _ = sky_position(rng, galactic, DEC_RANGE)
    return ra, dec


def _history(rng: np.random.Generator, night: float) -> tuple[np.ndarray, np.ndarray, int]:
    season_start = night - rng.uniform(20, SEASON_DAYS - 5)  # tonight is in season
    mjd, band = epochs(rng, night - HISTORY_DAYS, night, season_start)
    now_mjd, now_band = tonight(rng, night)
    return np.r_[mjd, now_mjd], np.r_[band, now_band], mjd.size


def _scene(stamp_class: str, rng: np.random.Generator, host_njy: float | None) -> Scene:
    """A Rubin cutout's field in nJy (the stamps' unit): 0.2" pixels, background-subtracted."""
    seeing = rng.uniform(*SEEING)
    fwhm = seeing / PIXEL_SCALE
    sky_sigma = float(njy(DEPTH["r"]) / DETECTION_SNR / np.sqrt(2.266 * fwhm**2))
    scene = Scene(stamp_class=stamp_class, science_flux=0.0, template_flux=0.0, fwhm=fwhm,
                  fwhm_template=fwhm * rng.uniform(0.7, 0.95), beta=rng.uniform(2.5, 4.5), sky=0.0,
                  sky_sigma=sky_sigma, zero_point=NJY_ZERO_POINT, centre_offset=tuple(rng.uniform(-0.5, 0.5, size=2)))
    if host_njy:
        offset = (rng.uniform(0.5, 4.0) if stamp_class == "SN" else rng.uniform(0.0, 0.3)) / PIXEL_SCALE
        angle = rng.uniform(0, 2 * np.pi)
        scene.host = Host(flux=host_njy, r_eff=rng.uniform(1.0, 4.0) / PIXEL_SCALE, n=rng.uniform(0.8, 4.0),
                          axis_ratio=rng.uniform(0.35, 1.0), angle=rng.uniform(0, np.pi),
                          dx=offset * np.cos(angle), dy=offset * np.sin(angle))
    if stamp_class == "asteroid":
        scene.elongation = 1.0 + rng.exponential(0.5)  # trailed in a 30 s visit at 0.2"/pixel
    scene.stars = [(float(njy(rng.uniform(17.0, 24.0))), *rng.uniform(-15, 15, size=2))
                   for _ in range(rng.poisson(0.8 if stamp_class == "VS" else 0.3))]
    if stamp_class == "bogus":
        scene.artefacts = _bogus_artefacts(rng)
    return scene


def _astrophysical(class_name: str, rng: np.random.Generator, night: float, night_sky: bool) -> RubinObject | None:
    """A light-curve-class object detected tonight, or None (not detected, or a 'fresh'
    transient already seen before tonight)."""
    source = build_source(class_name, rng)
    mjd, band, first_tonight = _history(rng, night)
    fresh = class_name in TRANSIENTS and rng.uniform() < FRESH_TRANSIENT_FRACTION
    place_transient(source, mjd, rng, peak_window=(night + 5, night + 15) if fresh else (night - 40, night + 15))
    fid = np.array([FID_OF_BAND[b] for b in band])
    phot = observe(source.difference_flux(mjd, fid, rng) * UJY_TO_NJY, mjd, band, rng)
    detected = phot.detected
    if not detected[first_tonight:].any() or (fresh and detected[:first_tonight].any()):
        return None
    stamp_class = STAMP_CLASS_OF[class_name]
    alert_rows = np.flatnonzero(detected[first_tonight:]) + first_tonight
    draw = partial(position, rng, galactic=source.host == "star" and class_name != "Blazar")
    ra, dec = up_at(draw, mjd[alert_rows], CERRO_PACHON) if night_sky else draw()
    reference = {b: float(njy(source.reference_mag[FID_OF_BAND[b]])) for b in BANDS}
    host_njy = float(njy(source.host_mag)) if source.host in ("offset", "nuclear") else None
    return RubinObject(class_name, stamp_class, phot, alert_rows, ra, dec, reference, _scene(stamp_class, rng, host_njy), dia_object_id=None,
                       reliability=float(rng.beta(8, 1.5)),
                       extendedness=float(rng.uniform(0.6, 1.0) if host_njy else rng.uniform(0.0, 0.3)))


def _spurious(class_name: str, rng: np.random.Generator, night: float, night_sky: bool) -> RubinObject:
    """An asteroid (one detection, tonight) or a bogus detection (nothing there before)."""
    mjd, band = tonight(rng, night)
    k = int(rng.integers(mjd.size))
    mjd, band = mjd[k:k + 1], band[k:k + 1]
    limit = DEPTH[str(band[0])]
    flux = float(njy(limit - rng.uniform(0.75, 3.0 if class_name == "asteroid" else 1.3)))
    if class_name == "bogus":
        flux *= rng.choice([-1, 1], p=[0.3, 0.7])
    phot = observe(np.array([flux]), mjd, band, rng)
    phot.flux[0] = np.sign(flux) * max(abs(phot.flux[0]), DETECTION_SNR * phot.flux_err[0] * 1.05)
    if class_name == "asteroid":
        draw = partial(ecliptic_position, rng, sun_longitude_deg(night) + 180.0 if night_sky else None, DEC_RANGE)
    else:
        draw = partial(position, rng, galactic=False)
    ra, dec = up_at(draw, mjd, CERRO_PACHON) if night_sky else draw()
    real = class_name == "asteroid"
    return RubinObject(class_name, class_name, phot, np.array([0]), ra, dec, dict.fromkeys(BANDS, 0.0),
                       _scene(class_name, rng, None), dia_object_id=None,
                       reliability=float(rng.beta(8, 1.5) if real else rng.beta(1.5, 5)),
                       extendedness=float(rng.uniform(0.0, 0.4)))


def simulate_rubin_object(class_name: str, rng: np.random.Generator, ids: RubinIds, night: float,
                          night_sky: bool = False) -> RubinObject:
    """One object with at least one alert tonight; a variable too faint to be seen in
    MAX_OBJECT_TRIES draws becomes a bogus detection (and is labelled so).

    ``night_sky``: where Cerro Pachon saw it at its alerts' times (the stream of a dated
    night); without it anywhere on Rubin's sky, as the Rubin classifiers' training sets were drawn.
    """
    obj = None
    if class_name in CLASSES:
        for _ in range(MAX_OBJECT_TRIES):
            if (obj := _astrophysical(class_name, rng, night, night_sky)) is not None:
                break
    if obj is None:
        obj = _spurious(class_name if class_name == "asteroid" else "bogus", rng, night, night_sky)
    if obj.class_name == "asteroid":
        obj.ss_object_id = int(ids.take()[0])
    else:
        obj.dia_object_id = int(ids.take()[0])
    obj.detector = int(rng.integers(0, 189))
    obj.source_ids = ids.take(obj.phot.mjd.size)
    obj.forced_ids = ids.take(obj.phot.mjd.size)
    return obj


# --- packets -----------------------------------------------------------------------------

def _f(value: float) -> float:
    return float(np.float32(value))


def _dia_source(obj: RubinObject, i: int, rng: np.random.Generator) -> dict[str, Any]:
    p = obj.phot
    flux, err = float(p.flux[i]), float(p.flux_err[i])
    jitter = rng.normal(0, 0.02 / 3600, size=2) * np.array([1 / max(np.cos(np.radians(obj.dec)), 0.05), 1])
    template = obj.reference_njy[str(p.band[i])]
    return {
        "diaSourceId": int(obj.source_ids[i]), "visit": visit_id(p.mjd[i], int(p.mjd[i] * 1e4)),
        "detector": obj.detector, "diaObjectId": obj.dia_object_id, "ssObjectId": obj.ss_object_id or 0,
        "midpointMjdTai": float(p.mjd[i]), "ra": float(obj.ra + jitter[0]), "raErr": _f(1e-5),
        "dec": float(obj.dec + jitter[1]), "decErr": _f(1e-5),
        "x": _f(rng.uniform(20, 4050)), "y": _f(rng.uniform(20, 4050)),
        "psfFlux": _f(flux), "psfFluxErr": _f(err), "psfNdata": 28 * 28, "snr": _f(abs(flux) / err),
        "trailNdata": 0, "dipoleNdata": 0, "scienceFlux": _f(template + flux), "scienceFluxErr": _f(err),
        "templateFlux": _f(template), "extendedness": _f(obj.extendedness), "reliability": _f(obj.reliability),
        "band": str(p.band[i]), "isNegative": flux < 0, "timeProcessedMjdTai": float(p.mjd[i] + 2.0 / 1440),
        "bboxSize": 28,
    }


def _forced(obj: RubinObject, i: int) -> dict[str, Any]:
    p = obj.phot
    template = obj.reference_njy[str(p.band[i])]
    return {
        "diaForcedSourceId": int(obj.forced_ids[i]), "diaObjectId": obj.dia_object_id, "ra": obj.ra,
        "dec": obj.dec, "visit": visit_id(p.mjd[i], int(p.mjd[i] * 1e4)), "detector": obj.detector,
        "midpointMjdTai": float(p.mjd[i]), "psfFlux": _f(p.flux[i]), "psfFluxErr": _f(p.flux_err[i]),
        "scienceFlux": _f(template + p.flux[i]), "scienceFluxErr": _f(p.flux_err[i]), "band": str(p.band[i]),
        "timeProcessedMjdTai": float(p.mjd[i] + 2.0 / 1440),
    }


def _dia_object(obj: RubinObject, i: int) -> dict[str, Any]:
    p = obj.phot
    seen = np.flatnonzero(p.detected[:i + 1])
    counts = {b: int((p.band[seen] == b).sum()) for b in BANDS}
    return {
        "diaObjectId": obj.dia_object_id, "validityStartMjdTai": float(p.mjd[i] + 2.0 / 1440),
        "ra": obj.ra, "dec": obj.dec, **{f"{b}_psfFluxNdata": counts[b] for b in BANDS},
        "nDiaSources": int(seen.size), "firstDiaSourceMjdTai": float(p.mjd[seen[0]]),
        "lastDiaSourceMjdTai": float(p.mjd[i]),
    }


def _ss_source(obj: RubinObject, i: int, rng: np.random.Generator) -> dict[str, Any]:
    galactic_lon, galactic_lat = icrs_to_galactic(obj.ra, obj.dec)
    ecliptic_lon, ecliptic_lat = icrs_to_ecliptic(obj.ra, obj.dec)
    return {"diaSourceId": int(obj.source_ids[i]), "ssObjectId": obj.ss_object_id,
            "designation": f"20{rng.integers(10, 26)} {chr(65 + rng.integers(24))}{chr(65 + rng.integers(25))}"
                           f"{rng.integers(1, 300)}",
            "eclLambda": float(ecliptic_lon), "eclBeta": float(ecliptic_lat), "galLon": float(galactic_lon),
            "galLat": float(galactic_lat), "ephOffset": _f(rng.exponential(0.3))}


def _psf(fwhm: float, beta: float) -> np.ndarray:
    x, y = _grid(*PSF_SIZE)
    return moffat(x, y, fwhm, beta).astype(np.float32)


def _fits(image: np.ndarray, variance: np.ndarray, psf: np.ndarray) -> bytes:
    """Rubin's cutout layout: the image (nJy), its variance ('UNCERT') and the PSF ('PSFIMAGE')."""
    return multi_extension_fits(image, (("UNCERT", variance), ("PSFIMAGE", psf)), {"BUNIT": "nJy"})


def _cutouts(obj: RubinObject, i: int, rng: np.random.Generator) -> dict[str, bytes]:
    band = str(obj.phot.band[i])
    scene = obj.scene
    if obj.class_name != "bogus":
        template = obj.reference_njy[band]
        scene = Scene(**{**scene.__dict__, "science_flux": template + float(obj.phot.flux[i]),
                         "template_flux": template})
    science, template_image, difference = render(scene, rng, CUTOUT_SIZE)
    variance = np.full(CUTOUT_SIZE, scene.sky_sigma**2, dtype=np.float32)
    psf = _psf(scene.fwhm, scene.beta)
    return {"cutoutScience": _fits(science, variance, psf),
            "cutoutTemplate": _fits(template_image, variance / TEMPLATE_DEPTH, psf),
            "cutoutDifference": _fits(difference, variance * (1 + 1 / TEMPLATE_DEPTH), psf)}


def alert_record(obj: RubinObject, k: int, rng: np.random.Generator) -> dict[str, Any]:
    """The object's k-th alert tonight as a Rubin alert record."""
    i = int(obj.alert_rows[k])
    p = obj.phot
    before = np.flatnonzero((p.mjd < p.mjd[i]) & (p.mjd >= p.mjd[i] - HISTORY_DAYS))[-MAX_ALERT_ROWS:]
    solar = obj.ss_object_id is not None
    return {
        "diaSourceId": int(obj.source_ids[i]), "observation_reason": "wfd", "target_name": None,
        "diaSource": _dia_source(obj, i, rng),
        "prvDiaSources": None if solar else [_dia_source(obj, int(j), rng) for j in before if p.detected[j]],
        "prvDiaForcedSources": None if solar else [_forced(obj, int(j)) for j in before],
        "diaObject": None if solar else _dia_object(obj, i),
        "ssSource": _ss_source(obj, i, rng) if solar else None,
        "mpc_orbits": None,
        **_cutouts(obj, i, rng),
    }


def encode(record: dict[str, Any], version: str = SCHEMA_VERSION) -> bytes:
    """One record as an Avro object container, as the real sample files are."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, _parsed(version), [record], codec="null", sync_marker=SYNC_MARKER)
    return buffer.getvalue()


_PARSED: dict[str, Any] = {}


def _parsed(version: str) -> Any:
    if version not in _PARSED:
        _PARSED[version] = fastavro.parse_schema(writer_schema(version))
    return _PARSED[version]


def simulate_rubin_labelled_alerts(n_alerts: int, *, seed: int = 0, start_mjd: float | None = None,
                                   class_mix: dict[str, float] | None = None,
                                   version: str = SCHEMA_VERSION) -> Iterator[tuple[bytes, str, str]]:
    """``n_alerts`` Rubin alert packets of one night in time order, each with its truth:
    (packet, light-curve class or "asteroid"/"bogus", stamp class). The same seed gives the
    same packets."""
    if n_alerts < 0:
        raise ValueError("n_alerts must be >= 0")
    names, probability = class_sampler(class_mix or DEFAULT_MIX)
    rng = np.random.default_rng(seed)
    night = np.floor(DEFAULT_START_MJD if start_mjd is None else start_mjd)
    ids = RubinIds(rng)
    objects, total = [], 0
    while total < n_alerts:
        obj = simulate_rubin_object(names[rng.choice(len(names), p=probability)], rng, ids, night, night_sky=True)
        obj.alert_rows = obj.alert_rows[: n_alerts - total]
        total += obj.alert_rows.size
        objects.append(obj)
    schedule = sorted((obj.phot.mjd[row], n, k) for n, obj in enumerate(objects) for k, row in enumerate(obj.alert_rows))
    for _, n, k in schedule:
        obj = objects[n]
        yield encode(alert_record(obj, k, rng), version), obj.class_name, obj.stamp_class


def simulate_rubin_alerts(n_alerts: int, **kwargs: Any) -> Iterator[bytes]:
    """Like :func:`simulate_rubin_labelled_alerts`, the packets alone."""
    for packet, _, _ in simulate_rubin_labelled_alerts(n_alerts, **kwargs):
        yield packet

