"""Simulated ZTF light curves of the 15 ALeRCE light-curve classes.

An object (:mod:`sources`) is observed on ZTF's cadence (:mod:`cadence`) through difference
imaging: detections where the flux change against the reference clears the epoch's limit,
upper limits otherwise. ``magpsf`` is therefore the *difference* magnitude, with
``isdiffpos`` its sign and ``distnr``/``magnr`` the reference source, exactly what ALeRCE's
correction step turns back into apparent magnitudes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from classifier_service.alert import Detection, NonDetection
from classifier_service.simulate.cadence import ObservingModel, default_model
from classifier_service.simulate.candidates import near_source
from classifier_service.simulate.sky import ps1_neighbours, sky_position, up_at
from classifier_service.simulate.sources import CLASSES, TRANSIENTS, Source, build_source

ZTF_START_MJD, ZTF_END_MJD = 58200.0, 60600.0
MAX_TRIES = 50


@dataclass
class SimulatedLightCurve:
    """Detections (difference photometry) and non-detections of one simulated object."""

    class_name: str
    mjd: np.ndarray
    fid: np.ndarray  # int8
    magpsf: np.ndarray
    sigmapsf: np.ndarray
    isdiffpos: np.ndarray  # int8 +1/-1
    diffmaglim: np.ndarray  # the limit of each detection's epoch
    distnr: np.ndarray  # distance to the reference source (arcsec); NaN when there is none
    magnr: np.ndarray  # its magnitude in the detection's band; NaN when there is none
    sigmagnr: np.ndarray
    nd_mjd: np.ndarray
    nd_fid: np.ndarray
    nd_diffmaglim: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)  # candidate fields: sgscore1, distpsnr1...
    params: dict[str, Any] = field(default_factory=dict)  # the truth: period, z, tau...

    def __len__(self) -> int:
        return int(self.mjd.size)

    def detections(self, oid: str) -> list[Detection]:
        """The detections as alert-model records, ready for ``build_lightcurve``."""
        ra, dec = self.metadata.get("ra", 0.0), self.metadata.get("dec", 0.0)
        return [
            Detection(oid=oid, candid=i + 1, mjd=float(m), fid=int(f), ra=ra, dec=dec, magpsf=float(mag),
                      sigmapsf=float(s), isdiffpos=int(sign), distnr=_none_if_nan(d), magnr=_none_if_nan(mnr),
                      sigmagnr=_none_if_nan(snr), diffmaglim=float(lim))
            for i, (m, f, mag, s, sign, d, mnr, snr, lim) in enumerate(zip(
                self.mjd, self.fid, self.magpsf, self.sigmapsf, self.isdiffpos, self.distnr, self.magnr,
                self.sigmagnr, self.diffmaglim))
        ]

    def non_detections(self, oid: str) -> list[NonDetection]:
        return [NonDetection(oid=oid, mjd=float(m), fid=int(f), diffmaglim=float(lim))
                for m, f, lim in zip(self.nd_mjd, self.nd_fid, self.nd_diffmaglim)]


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def place_transient(source: Source, epochs: np.ndarray, rng: np.random.Generator,
                    peak_window: tuple[float, float] | None = None) -> None:
    """Put a supernova's explosion so that its peak falls among (or near) the given epochs."""
    if source.class_name not in TRANSIENTS:
        return
    lo, hi = peak_window or ((epochs.min(), epochs.max()) if epochs.size else (0.0, 1.0))
    peak_time = rng.uniform(lo - 10, hi)
    rise, fall = source.params["rise"], source.params["fall"]
    source.params["t0"] = float(peak_time - rise * np.log(max(fall / rise - 1, 1.0)))


def reference_source(source: Source, rng: np.random.Generator) -> tuple[float, np.ndarray, float]:
    """(distnr, magnr per fid, sigmagnr) of the nearest source in the reference image."""
    if source.host == "star" or source.host == "nuclear":
        distance = near_source(source.host, rng)["distnr"]
        magnr = source.reference_mag.copy() if source.host == "star" else np.full(4, source.host_mag)
    elif source.host == "offset":
        distance, magnr = float(rng.uniform(0.5, 4.0)), np.full(4, source.host_mag)
    else:
        return np.nan, np.full(4, np.nan), np.nan
    sigmagnr = float(np.clip(0.01 * 10 ** (0.2 * (np.nanmin(magnr[1:3]) - 16)), 0.005, 0.2))
    return distance, magnr, sigmagnr


def object_metadata(source: Source, rng: np.random.Generator, up_at_mjd: np.ndarray | None = None) -> dict[str, Any]:
    """Sky position and PS1 cross-match fields consistent with what the object is; given a
    night's detection times ``up_at_mjd``, a position ZTF could observe at those times."""
    draw = partial(sky_position, rng, galactic=source.host == "star" and source.class_name != "Blazar")
    ra, dec, b = draw() if up_at_mjd is None else up_at(draw, up_at_mjd)
    meta: dict[str, Any] = {"ra": ra, "dec": dec, "galactic_b": b}
    meta.update(ps1_neighbours(rng, source.host, source.host_mag))
    return meta


def simulate_lightcurve(class_name: str, rng: np.random.Generator, *, start_mjd: float | None = None,
                        duration_days: float = 400.0, min_detections: int = 0,
                        observing: ObservingModel | None = None) -> SimulatedLightCurve:
    """One object of ``class_name`` observed by ZTF for ``duration_days``.

    ``min_detections`` redraws the object until that many detections are seen (for training
    sets that, like ALeRCE's, need >= 6). Transients peak inside the window.
    """
    if class_name not in CLASSES:
        raise ValueError(f"unknown light-curve class {class_name!r}; expected one of {CLASSES}")
    if duration_days <= 0:
        raise ValueError(f"duration_days must be positive, not {duration_days}")
    model = observing or default_model()
    best: SimulatedLightCurve | None = None
    for _ in range(MAX_TRIES):
        latest_start = max(ZTF_END_MJD - duration_days, ZTF_START_MJD)
        start = rng.uniform(ZTF_START_MJD, latest_start) if start_mjd is None else start_mjd
        curve = _observe_once(class_name, rng, start, duration_days, model)
        if len(curve) >= min_detections:
            return curve
        best = curve if best is None or len(curve) > len(best) else best
    assert best is not None
    return best


def _observe_once(class_name: str, rng: np.random.Generator, start: float, duration: float,
                  model: ObservingModel) -> SimulatedLightCurve:
    source = build_source(class_name, rng)
    mjd, fid = model.epochs(rng, start, start + duration)
    place_transient(source, mjd, rng)
    observed = model.observe(source.difference_flux(mjd, fid, rng), mjd, fid, rng,
                             reference_flux=source.reference_flux(fid))
    distance, magnr_by_band, sigmagnr = reference_source(source, rng)
    det = observed.detected
    n_det = int(det.sum())
    return SimulatedLightCurve(
        class_name=class_name,
        mjd=mjd[det], fid=fid[det], magpsf=observed.magpsf[det], sigmapsf=observed.sigmapsf[det],
        isdiffpos=observed.isdiffpos[det], diffmaglim=observed.diffmaglim[det],
        distnr=np.clip(distance + rng.normal(0, 0.08, n_det), 0.01, None),  # NaN stays NaN: no source
        magnr=magnr_by_band[fid[det]], sigmagnr=np.full(n_det, sigmagnr),
        nd_mjd=mjd[~det], nd_fid=fid[~det], nd_diffmaglim=observed.diffmaglim[~det],
        metadata=object_metadata(source, rng),
        params={**source.params, "host": source.host},
    )
