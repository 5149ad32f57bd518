"""Derive the observing model's statistics from real ZTF alert histories.

Run ``python -m classifier_service.simulate.calibrate [DATA_DIR]``: it reads the real alerts'
``prv_candidates`` (jd, fid, diffmaglim, magpsf, sigmapsf, rb), candidates (fwhm, drb),
the candidates' own measurements (PSF-fit chi, seeing ratio, the
reference source's shape by what lies under it; see :mod:`candidates`), the cutouts' sky level
and noise (see :func:`stamp_statistics`) plus ALeRCE's long light curves, and writes
quantiles and binned medians — statistics only, never alerts — to ``observing_model.json``
beside this module, so the simulator runs on machines without the data.
"""
from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from classifier_service.simulate.cadence import DETECTION_SNR
from classifier_service.surveys.base import AlertParseError
from classifier_service.train import SHARED_DATA
from classifier_service.train.labels import iter_alert_records

log = logging.getLogger(__name__)

OUTPUT = Path(__file__).with_name("observing_model.json")
QUANTILES = np.linspace(0.0, 1.0, 21)
# sigmapsf is binned by how far above the limit a detection is: magpsf - diffmaglim.
DEPTH_BINS = np.arange(-7.0, 0.75, 0.5)
SEASON_BREAK_DAYS = 60.0  # a gap longer than this separates two observing seasons
MIN_VALID_LIMIT = 10.0  # ZTF writes -999-like sentinels into diffmaglim now and then
# The candidate's reference-source shape (classtar, chinr, sharpnr) depends on what lies under
# it; the simulator's host kinds (sky.HOSTS) are told apart in real alerts by distnr and sgscore1.
HOST_FIELDS = ("classtar", "chinr", "sharpnr")
# For a source on a star or a galaxy nucleus, also how far the reference and PS1 sources lie
# (astrometric scatter) and how star-like PS1 finds it; offsets of hosts are geometry instead.
NEAR_FIELDS = ("distnr", "distpsnr1", "sgscore1")
SCENE_FIELDS = ("magdiff", "sumrat")  # image-quality fields, whatever the host
# seeratio (difference-image over science fwhm, clipped by ZTF at 2) falls with the fwhm
# (Spearman -0.91) and is clipped for a third of real alerts, mostly sharp ones: quantiles
# per fwhm bin (pixels) keep both, which a power law does not.
SEERATIO_FWHM_EDGES = (1.5, 2.0, 2.5, 3.0)
STAR_SCORE = 0.5
NUCLEAR_ARCSEC, OFFSET_ARCSEC = 1.5, 5.0
KNOWN_SOURCE_DAYS = 30.0  # first detected longer ago than a packet's history reaches
HISTORY_DAYS = 30.0  # ZTF packets carry this many days of prv_candidates


def _background_and_noise(image: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based sigma of the finite pixels (robust to the source at the centre)."""
    finite = image[np.isfinite(image)]
    if not finite.size:
        return np.nan, np.nan
    median = float(np.median(finite))
    return median, float(1.4826 * np.median(np.abs(finite - median)))


def stamp_statistics(images: list[np.ndarray]) -> dict[str, float]:
    """Background, noise, NaN fraction and the difference's central peak S/N of a triplet:
    what the simulator's stamps are calibrated on and the adversary compares."""
    science, template, difference = (np.asarray(i, dtype=np.float64) for i in images)
    out: dict[str, float] = {}
    for name, image in (("science", science), ("template", template), ("difference", difference)):
        out[f"{name}_background"], out[f"{name}_noise"] = _background_and_noise(image)
    h, w = difference.shape
    centre = difference[max(h // 2 - 3, 0):h // 2 + 4, max(w // 2 - 3, 0):w // 2 + 4]
    noise = out["difference_noise"]
    peak = np.nanmax(centre) if np.isfinite(centre).any() else np.nan
    out["difference_peak_snr"] = (peak - out["difference_background"]) / noise if noise > 0 else np.nan
    out["science_nan_fraction"] = float(np.isnan(science).mean())
    out["difference_nan_fraction"] = float(np.isnan(difference).mean())
    out["cutout_pixels"] = float(difference.size)
    return out


def _quantiles(values: list[float]) -> list[float]:
    array = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    return [round(float(q), 4) for q in np.quantile(array, QUANTILES)]


def _night(jd: float) -> int:
    """ZTF (Palomar, UTC-8) nights change at JD .5 + ~8 h; floor(jd - 0.2) keeps a night together."""
    return int(np.floor(jd - 0.2))


def collect(data_dir: Path) -> dict[str, Any]:
    """The statistics the observing model samples from."""
    limits: dict[int, list[float]] = defaultdict(list)
    depth, sigma, rb, drb, fwhm = [], [], [], [], []
    epochs: dict[str, dict[float, int]] = defaultdict(dict)  # oid -> jd -> fid
    seen_candids: set[int] = set()
    candidates, history_epochs = [], []
    for record in iter_alert_records(data_dir):
        candidate = record["candidate"]
        if candidate.get("candid") in seen_candids:
            continue
        seen_candids.add(candidate.get("candid"))
        candidates.append(candidate)
        if candidate.get("fwhm") and candidate["fwhm"] > 0:
            fwhm.append(candidate["fwhm"])
        if candidate.get("drb") is not None:
            drb.append(candidate["drb"])
        history = [row for row in record.get("prv_candidates") or () if row.get("jd") is not None
                   and candidate.get("jd") is not None and 0 < candidate["jd"] - row["jd"] <= HISTORY_DAYS]
        if history:  # an empty history is a stripped copy (Fink, Spark exports), not a survey's cadence
            history_epochs.append(len(history))
        for row in [candidate, *(record.get("prv_candidates") or ())]:
            if row.get("jd") is None or not (row.get("diffmaglim") or 0) > MIN_VALID_LIMIT:
                continue
            limits[int(row["fid"])].append(row["diffmaglim"])
            epochs[record["objectId"]][round(row["jd"], 5)] = int(row["fid"])
            if row.get("magpsf") is not None and row.get("sigmapsf"):
                depth.append(row["magpsf"] - row["diffmaglim"])
                sigma.append(row["sigmapsf"])
                if row.get("rb") is not None:
                    rb.append(row["rb"])
    return {
        "n_alerts": len(seen_candids),
        "quantile_levels": [round(float(q), 3) for q in QUANTILES],
        "diffmaglim": {str(fid): _quantiles(values) for fid, values in sorted(limits.items())},
        "sigmapsf_vs_depth": _sigma_table(np.asarray(depth), np.asarray(sigma)),
        "rb": _quantiles(rb),
        "drb": _quantiles(drb),
        "fwhm_pix": _quantiles(fwhm),
        **_cadence(epochs),
        "history_epochs": _quantiles(history_epochs),
        **_seasons(data_dir),
        "stamp_pixels": _stamp_pixels(data_dir),
        "candidate_fields": _candidate_fields(candidates),
        "known_sources": _known_sources(candidates),
    }


def host_kind(distnr: float | None, sgscore1: float | None) -> str:
    """The simulator's host kind (``sky.HOSTS``) a real candidate's reference source suggests."""
    if distnr is None or not np.isfinite(distnr) or distnr < 0 or distnr >= OFFSET_ARCSEC:
        return "hostless"
    if distnr >= NUCLEAR_ARCSEC:
        return "offset"
    return "star" if (sgscore1 or 0.0) > STAR_SCORE else "nuclear"


def _log_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """log10(y) = slope * x + intercept, and the scatter about it."""
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    slope, intercept = np.polyfit(x[ok], np.log10(y[ok]), 1)
    scatter = np.std(np.log10(y[ok]) - (slope * x[ok] + intercept))
    return {"slope": round(float(slope), 4), "intercept": round(float(intercept), 4), "scatter": round(float(scatter), 4)}


def _candidate_fields(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """Quantiles of the candidates' measured fields: the reference-source shape per host kind
    (and, on stars and nuclei, the cross-match distances and PS1 score),
    image-quality fields overall; chipsf and scorr as functions of the height above the limit,
    which they follow (bright sources fit the PSF worse), and seeratio per bin of fwhm."""
    def number(candidate: dict[str, Any], name: str) -> float:
        value = candidate.get(name)
        return float(value) if value is not None else np.nan

    kinds = [host_kind(number(c, "distnr"), number(c, "sgscore1")) for c in candidates]
    by_host = {kind: {name: _quantiles([number(c, name) for c, k in zip(candidates, kinds) if k == kind])
                      for name in HOST_FIELDS + (NEAR_FIELDS if kind in ("star", "nuclear") else ())}
               for kind in sorted(set(kinds))}
    height = np.asarray([number(c, "diffmaglim") - number(c, "magpsf") for c in candidates])
    seeratio = np.asarray([number(c, "seeratio") for c in candidates])
    fwhm = np.asarray([number(c, "fwhm") for c in candidates])
    return {
        "by_host": by_host,
        **{name: _quantiles([number(c, name) for c in candidates]) for name in SCENE_FIELDS},
        "chipsf_vs_height": _log_fit(height, np.asarray([number(c, "chipsf") for c in candidates])),
        "scorr_vs_height": _log_fit(height, np.asarray([number(c, "scorr") for c in candidates])),
        "seeratio_by_fwhm": {"edges": list(SEERATIO_FWHM_EDGES), "quantiles": [
            _quantiles(seeratio[np.searchsorted(SEERATIO_FWHM_EDGES, fwhm) == k].tolist())
            for k in range(len(SEERATIO_FWHM_EDGES) + 1)]},
    }


def _known_sources(candidates: list[dict[str, Any]]) -> dict[str, list[float]]:
    """How long before an alert on a star or a galaxy nucleus (variable stars and AGN, not
    fresh transients) its position was first detected (jd - jdstarthist: a third of them
    within the packet's 30 days), and how many detections per day the sources known for
    longer gathered since (ndethist / that age)."""
    def number(candidate: dict[str, Any], name: str) -> float:
        value = candidate.get(name)
        return float(value) if value is not None else np.nan

    age = np.asarray([number(c, "jd") - number(c, "jdstarthist") for c in candidates])
    ndethist = np.asarray([number(c, "ndethist") for c in candidates])
    on_source = np.asarray([host_kind(number(c, "distnr"), number(c, "sgscore1")) in ("star", "nuclear")
                            for c in candidates])
    known = age > KNOWN_SOURCE_DAYS
    return {"age_days": _quantiles(age[on_source & (age >= 0)].tolist()),
            "detections_per_day": _quantiles((ndethist[known] / age[known]).tolist())}


def _stamp_pixels(data_dir: Path) -> dict[str, Any]:
    """Sky level and noise of the real cutouts, as :func:`stamp_statistics` measures them: the
    science image's; the template's sky relative to it (a co-add on the science image's scale)
    and its own noise (which depends on its depth, not on tonight's sky); the difference's noise
    and residual sky relative to the science image's (it is PSF-matched); and
    how often and how much of a stamp is masked (NaN)."""
    from classifier_service.cutouts import CutoutError, decode_cutouts
    from classifier_service.surveys import parse_record

    rows, seen = [], set()
    for record in iter_alert_records(data_dir):
        try:
            alert = parse_record(record)
            if alert.candid in seen or not alert.cutouts.present():
                continue
            seen.add(alert.candid)
            candidate = record["candidate"]
            rows.append({**stamp_statistics(decode_cutouts(alert.cutouts)),
                         **{name: float(candidate.get(name) or np.nan) for name in ("fwhm", "diffmaglim", "magpsf")}})
        except (AlertParseError, CutoutError) as exc:
            log.info("stamps skipped: %s", exc)
    stats = {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
    # The difference's central peak S/N against the detection's height above its 5-sigma limit:
    # peak_snr = 5 * 10**(0.4 * height) * factor / fwhm. A Gaussian PSF with white noise gives
    # factor 1.33; real stamps show more (their pixel noise is correlated by resampling).
    height = stats["diffmaglim"] - stats["magpsf"]
    factor = stats["difference_peak_snr"] * stats["fwhm"] / (DETECTION_SNR * 10 ** (0.4 * height))
    usable = np.isfinite(factor) & (height > 0) & (height < 3)
    science, noise = stats["science_background"], stats["science_noise"]
    ok = np.isfinite(science) & (science > 0) & (noise > 0)
    masked = stats["science_nan_fraction"][ok]
    return {
        "n_stamps": int(ok.sum()),
        "science_background": _quantiles(science[ok].tolist()),
        "science_noise": _quantiles(noise[ok].tolist()),
        "template_background_ratio": _quantiles((stats["template_background"] / science)[ok].tolist()),
        "template_noise": _quantiles(stats["template_noise"][ok].tolist()),
        "difference_noise_ratio": _quantiles((stats["difference_noise"] / noise)[ok].tolist()),
        "difference_background_in_noise": _quantiles(
            (stats["difference_background"] / stats["difference_noise"])[ok].tolist()),
        "peak_snr_factor": round(float(np.median(factor[usable])), 4),
        "masked_share": round(float(np.mean(masked > 0)), 4),
        "masked_fraction": _quantiles(masked[masked > 0].tolist()),
    }


def _sigma_table(depth: np.ndarray, sigma: np.ndarray) -> dict[str, list[float]]:
    """Median and spread of log10(sigmapsf) per bin of magpsf - diffmaglim."""
    centers, median, spread = [], [], []
    for lo, hi in zip(DEPTH_BINS[:-1], DEPTH_BINS[1:]):
        chosen = np.log10(sigma[(depth >= lo) & (depth < hi)])
        if chosen.size >= 5:
            centers.append(round(float((lo + hi) / 2), 3))
            median.append(round(float(np.median(chosen)), 4))
            spread.append(round(float(np.std(chosen)), 4))
    return {"depth": centers, "log10_sigma_median": median, "log10_sigma_std": spread}


def _cadence(epochs: dict[str, dict[float, int]]) -> dict[str, Any]:
    """Night-to-night gaps, and which filters a night holds, from each object's 30-day window."""
    gaps, per_night = [], []
    filter_sets: dict[str, int] = defaultdict(int)
    for visits in epochs.values():
        by_night: dict[int, list[int]] = defaultdict(list)
        for jd, fid in visits.items():
            by_night[_night(jd)].append(fid)
        nights = np.array(sorted(by_night))
        gaps.extend(np.diff(nights).tolist())
        for fids in by_night.values():
            per_night.append(len(fids))
            filter_sets["".join(str(f) for f in sorted(set(fids)))] += 1
    total = sum(filter_sets.values())
    gap_values, gap_counts = np.unique(np.clip(gaps, 1, 30), return_counts=True)
    return {
        "night_gap_days": {"values": gap_values.astype(int).tolist(),
                           "probability": np.round(gap_counts / gap_counts.sum(), 4).tolist()},
        "night_filters": {key: round(count / total, 4) for key, count in sorted(filter_sets.items())},
        "visits_per_night": _quantiles(per_night),
    }


def _seasons(data_dir: Path) -> dict[str, Any]:
    """Observing-season lengths from ALeRCE's multi-year light curves (detections + limits)."""
    import pandas as pd

    lengths = []
    for folder in sorted((data_dir / "lightcurves" / "alerce-pipeline-lc_examples").glob("*_*")):
        mjd = []
        for name in ("detections.csv", "non_detections.csv"):
            if (folder / name).exists():
                mjd.extend(pd.read_csv(folder / name, usecols=["mjd"])["mjd"].tolist())
        mjd = np.sort(np.asarray(mjd))
        if mjd.size < 10:
            continue
        breaks = np.flatnonzero(np.diff(mjd) > SEASON_BREAK_DAYS)
        starts = np.r_[mjd[0], mjd[breaks + 1]]
        ends = np.r_[mjd[breaks], mjd[-1]]
        complete = (ends - starts)[1:-1] if starts.size > 2 else ends - starts
        lengths.extend(complete.tolist())
    return {"season_length_days": _quantiles(lengths) if lengths else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=SHARED_DATA)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    stats = collect(args.data_dir)
    args.out.write_text(json.dumps(stats, indent=1) + "\n")
    log.info("wrote %s (%d bytes) from %d alerts", args.out, args.out.stat().st_size, stats["n_alerts"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
