"""Simulated ZTF alert streams (schema 4.02) for the demo, the benchmarks and the tests.

Objects — supernovae, variable stars, AGN (drawn from the light-curve classes), asteroids and
bogus detections — are observed over the simulated night(s) on ZTF's cadence
(:mod:`objects`); every detection of a night becomes one alert packet (:mod:`packets`).
Packets come out in time order, each a one-record Avro container like ZTF's.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from classifier_service.simulate.cadence import default_model
from classifier_service.simulate.objects import SUBCLASS_RATES, Ids, SimulatedObject, pid_of, simulate_object
from classifier_service.simulate.packets import encode_alert
from classifier_service.simulate.sources import CLASSES
from classifier_service.simulate.stamps import STAMP_CLASSES

DEFAULT_START_MJD = 60400.0
ALERTS_PER_NIGHT = 50_000
DEFAULT_MIX = {"SN": 0.2, "VS": 0.35, "AGN": 0.15, "asteroid": 0.15, "bogus": 0.15}


def class_sampler(class_mix: dict[str, float] | None) -> tuple[list[str], np.ndarray]:
    """Expand a mix over stamp and/or light-curve classes into light-curve-level probabilities.

    "AGN" names the stamp class (QSO, AGN and Blazar at their stream rates), as it does in
    the stamp classifier's taxonomy.
    """
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


def plan_night(n_alerts: int, night: float, rng: np.random.Generator, ids: Ids,
               class_mix: dict[str, float] | None = None) -> list[SimulatedObject]:
    """Objects whose detections during one night add up to ``n_alerts`` alerts."""
    names, probability = class_sampler(class_mix)
    model = default_model()
    objects, total = [], 0
    while total < n_alerts:
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
    or "asteroid"/"bogus", stamp class) — for evaluating classifiers on simulated streams.

    Runs longer than ``ALERTS_PER_NIGHT`` span consecutive nights, planned one at a time so
    memory stays bounded.
    """
    if n_alerts < 0:
        raise ValueError("n_alerts must be >= 0")
    class_sampler(class_mix)  # fail on a bad mix before anything is simulated
    rng, first_night = np.random.default_rng(seed), np.floor(DEFAULT_START_MJD if start_mjd is None else start_mjd)
    ids = Ids(rng)
    for night_index, start in enumerate(range(0, n_alerts, ALERTS_PER_NIGHT)):
        objects = plan_night(min(ALERTS_PER_NIGHT, n_alerts - start), first_night + night_index, rng, ids, class_mix)
        schedule = sorted((obj.obs.mjd[row], n, k) for n, obj in enumerate(objects)
                          for k, row in enumerate(obj.alert_rows))
        for _, n, k in schedule:
            obj = objects[n]
            yield encode_alert(obj, k, rng), obj.class_name, obj.stamp_class
            if k == obj.alert_rows.size - 1:
                obj.history_rows.clear()  # its last alert of the night: the cache is done


def simulate_alert_packets(n_alerts: int, *, seed: int = 0, start_mjd: float | None = None,
                           class_mix: dict[str, float] | None = None) -> Iterator[bytes]:
    """``n_alerts`` ZTF 4.02 alert packets in time order, each an Avro container of one alert.

    ``class_mix`` weighs the objects' stamp classes (SN, VS, AGN, asteroid, bogus) and/or
    light-curve classes (SNIa, RRL, ...); each object sends 1-4 alerts in its night
    (asteroids one). The same seed gives the same packets.
    """
    for packet, _, _ in simulate_labelled_alerts(n_alerts, seed=seed, start_mjd=start_mjd, class_mix=class_mix):
        yield packet
