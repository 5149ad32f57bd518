"""Synthetic ZTF and Rubin alerts, light curves and cutouts for the demo, the benchmarks and training.

- :func:`simulate_lightcurve` — one object of the 15 light-curve classes on ZTF's cadence.
- :func:`simulate_stamps` / :func:`stamp_metadata` / :func:`simulate_stamp_example` — cutouts
  and candidate fields for the stamp classifier's five classes.
- :func:`simulate_alert_packets` — Avro alert packets valid against ZTF schema 4.02
  (:func:`simulate_labelled_alerts` adds each packet's true class).
- :mod:`classifier_service.simulate.rubin` — a Rubin night (lsst v11 packets) from the same sources.

The classes are the contract's (``alerce_contract.taxonomy``). The observing model is
calibrated on real alerts (``python -m classifier_service.simulate.calibrate``).
"""
from alerce_contract.taxonomy import LC_TAXONOMY as HIERARCHY
from classifier_service.simulate.alerts import simulate_alert_packets, simulate_labelled_alerts
from classifier_service.simulate.lightcurves import SimulatedLightCurve, simulate_lightcurve
from classifier_service.simulate.sources import CLASSES
from classifier_service.simulate.stamps import (
    STAMP_CLASSES,
    simulate_stamp_example,
    simulate_stamps,
    stamp_metadata,
)

__all__ = [
    "CLASSES", "HIERARCHY", "STAMP_CLASSES", "SimulatedLightCurve", "simulate_alert_packets",
    "simulate_labelled_alerts", "simulate_lightcurve", "simulate_stamp_example", "simulate_stamps", "stamp_metadata",
]
