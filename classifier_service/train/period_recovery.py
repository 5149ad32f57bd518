"""How often the period search finds a star's period: simulated periodic stars against their
true period, real ZTF stars against an exhaustive multi-harmonic periodogram.

``alerce-classifier evaluate --only periods`` prints it: the figure the throughput issue's
period goal is measured by (within 1% for at least 95% of the stars). Nothing is trained.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alerce_contract.taxonomy import PERIODIC
from classifier_service.features.bands import ObjectBands
from classifier_service.features.period import MIN_PERIOD, Period
from classifier_service.lightcurve import build_lightcurve
from classifier_service.lightcurve.model import LightCurve

TOLERANCE = 0.01  # a period within 1% of the true or reference one is found
SEEDS = (5, 6, 7, 8, 9, 10)
PER_CLASS = 40
# Curves of years, as a star known for long reaches the classifier; periods from MIN_PERIOD to a
# third of the baseline (three cycles at least).
BASELINE_DAYS = (300.0, 1500.0)
MIN_DETECTIONS = 40
PIPELINE = Path("lightcurves") / "alerce-pipeline-lc_examples"
UNLABELLED = Path("lightcurves") / "alerce-lc_classifier" / "examples_data_10_objects_unlabeled"

# Best period (days) of the exact four-harmonic multiband periodogram (each band its own mean),
# scanned over every frequency from 2/T to 20 per day at 10 points per 1/T and then 20x finer
# around the best: the slow, exhaustive answer the search must reproduce. Left out:
# ZTF18abombrp (no period: the best model explains 26% of the variance) and ZTF19aawgxdn
# (126-d baseline), where the scan prefers 2.978 d, three times the 0.992 d found here, whose
# third harmonic is that period.
REFERENCE_PERIODS: dict[str, float] = {
    "ZTF18aasycma": 0.538893, "ZTF18aauxofy": 0.0514515, "ZTF17aaaemke": 0.271882,
    "ZTF17aaafyya": 0.302248, "ZTF17aaageae": 0.818762, "ZTF17aaaivsr": 0.268149,
    "ZTF17aaaizej": 0.590996, "ZTF17aaajizt": 0.567455, "ZTF17aaajlul": 0.604027,
    "ZTF17aaakstv": 0.168060, "ZTF17aaanxog": 3.41649, "ZTF17aaanyaa": 0.198572,
}


@dataclass(frozen=True)
class Recovered:
    """Stars of each class, and how many got their period within TOLERANCE."""

    found: dict[str, int]
    stars: dict[str, int]

    @property
    def total(self) -> tuple[int, int]:
        return sum(self.found.values()), sum(self.stars.values())


def real_lightcurves(data_dir: Path) -> dict[str, LightCurve]:
    """The long real ZTF light curves of ``data_dir`` (ALeRCE's pipeline examples and unlabelled
    sample), with their non-detections; ZTF24aaecooj, forced photometry only, is left out."""
    import pandas as pd

    curves = {}
    for folder in sorted((data_dir / PIPELINE).glob("ZTF1*_*")):
        oid = folder.name.split("_")[0]
        curves[oid] = build_lightcurve(oid, pd.read_csv(folder / "detections.csv"),
                                       pd.read_csv(folder / "non_detections.csv"))
    detections = pd.read_parquet(data_dir / UNLABELLED / "detections_sample.parquet").reset_index()
    non_detections = pd.read_parquet(data_dir / UNLABELLED / "non_detections_sample.parquet").reset_index()
    limits = dict(iter(non_detections.groupby("oid")))
    for oid, rows in detections.groupby("oid"):
        curves[oid] = build_lightcurve(oid, rows, limits.get(oid, non_detections.iloc[:0]))
    return curves


def long_star(lc_class: str, rng: np.random.Generator) -> tuple[float, LightCurve]:
    """One simulated star of ``lc_class`` observed for years (BASELINE_DAYS, at least
    MIN_DETECTIONS detections): its true period and its light curve."""
    from classifier_service.simulate.lightcurves import simulate_lightcurve

    sim = simulate_lightcurve(lc_class, rng, duration_days=float(rng.uniform(*BASELINE_DAYS)),
                              min_detections=MIN_DETECTIONS)
    return float(sim.params["period"]), build_lightcurve("sim", sim.detections("sim"), sim.non_detections("sim"),
                                                         sim.metadata)


def simulated_stars(seed: int, per_class: int = PER_CLASS) -> list[tuple[str, float, ObjectBands]]:
    """(class, true period, bands) of ``per_class`` simulated stars of every periodic class."""
    rng = np.random.default_rng(seed)
    stars = []
    for lc_class in PERIODIC:
        drawn = 0
        while drawn < per_class:
            period, lc = long_star(lc_class, rng)
            if MIN_PERIOD <= period <= np.ptp(lc.mjd) / 3:
                stars.append((lc_class, period, ObjectBands.of(lc)))
                drawn += 1
    return stars


def recovered(classes: Sequence[str], truth: np.ndarray, found: np.ndarray) -> Recovered:
    hits = np.abs(found / truth - 1) < TOLERANCE  # NaN is no hit
    names = list(dict.fromkeys(classes))
    return Recovered({c: int(sum(h for h, k in zip(hits, classes) if k == c)) for c in names},
                     {c: classes.count(c) for c in names})


def simulated_recovery(seed: int, per_class: int = PER_CLASS) -> Recovered:
    stars = simulated_stars(seed, per_class)
    found = Period()([bands for _, _, bands in stars])[:, 0]
    return recovered([c for c, _, _ in stars], np.array([p for _, p, _ in stars]), found)


def real_recovery(data_dir: Path) -> tuple[Recovered, dict[str, tuple[float, float]]]:
    """The reference stars' recovery, and each one's (found, reference) period."""
    curves = real_lightcurves(data_dir)
    oids = sorted(REFERENCE_PERIODS)
    found = Period()([ObjectBands.of(curves[oid]) for oid in oids])[:, 0]
    truth = np.array([REFERENCE_PERIODS[oid] for oid in oids])
    return recovered(["real"] * len(oids), truth, found), dict(zip(oids, zip(found.tolist(), truth.tolist())))


def period_report(data_dir: Path, seeds: Sequence[int] = SEEDS, per_class: int = PER_CLASS) -> str:
    """The recovery table: simulated stars seed by seed and class by class, then the real stars."""
    lines = [f"Simulated periodic stars ({per_class} a class; baselines {BASELINE_DAYS[0]:,.0f}-"
             f"{BASELINE_DAYS[1]:,.0f} d, at least {MIN_DETECTIONS} detections, periods {MIN_PERIOD} d to a "
             f"third of the baseline), within {TOLERANCE:.0%} of the true period:",
             "seed  " + "  ".join(f"{c:>7}" for c in PERIODIC) + "        all"]
    found = stars = 0
    for seed in seeds:
        result = simulated_recovery(seed, per_class)
        hit, n = result.total
        found, stars = found + hit, stars + n
        lines.append(f"{seed:>4}  " + "  ".join(f"{f'{result.found[c]}/{result.stars[c]}':>{max(len(c), 7)}}"
                                                 for c in PERIODIC) + f"  {f'{hit}/{n}':>9}")
    lines.append(f"simulated: {found:,} of {stars:,} ({found / stars:.1%})")
    real, periods = real_recovery(data_dir)
    real_hit, real_n = real.total
    lines.append(f"real ZTF stars of {data_dir / 'lightcurves'} (with their non-detections), within "
                 f"{TOLERANCE:.0%} of an exhaustive four-harmonic periodogram: {real_hit} of {real_n}")
    lines.extend(f"  {oid}: {f:.6g} d (reference {ref:.6g} d)" for oid, (f, ref) in periods.items()
                 if not abs(f / ref - 1) < TOLERANCE)
    lines.append(f"together: {found + real_hit:,} of {stars + real_n:,} ({(found + real_hit) / (stars + real_n):.1%})")
    return "\n".join(lines)
