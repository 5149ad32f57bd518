"""A store of real ZTF alerts for the API tests, written by the pipeline itself.

Alerts from ../shared/data are replayed through the Worker into a Store, as
``alerce-classifier replay`` would; the classifiers are seeded stand-ins (a Dirichlet
draw per object) because the API only has to serve what the store holds, whatever
produced it, and the tests must not wait on trained models.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier_service.classifiers.base import Classification, ClassifierInput, ClassifierOutput
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.worker import Worker

ALERT_DIRS = (
    "ztf_alerts/ampel-ztf/ztf_public_20180819_mod1000",  # 30 objects, with cutouts
    "ztf_alerts/ampel-ztf/ZTF18abxhyqv_nocutouts",  # one object over 4 alerts, g/r/i
    "ztf_alerts/ztf-avro-alert",
    "ztf_alerts/alerce-pipeline/lc_classifier_example",  # 4.01, forced photometry
)
FEATURE_VERSION = "test-0.1"


@dataclass
class SeededClassifier:
    """Probabilities drawn from a generator seeded by the oid: the same object, the same answer."""

    name: str
    version: str
    classes: tuple[str, ...]
    surveys: frozenset[str] = frozenset({"ZTF", "LSST"})  # a stand-in: it answers for every survey

    def taxonomy(self) -> dict[str, list[str]]:
        return {self.name: list(self.classes)}

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        return [self._classify(one) for one in batch]

    def _classify(self, one: ClassifierInput) -> Classification:
        seed = hashlib.sha256(f"{self.name}/{one.alert.oid}".encode()).digest()
        probabilities = np.random.default_rng(list(seed[:8])).dirichlet(
            np.full(len(self.classes), 0.5))
        lc = one.lightcurve
        features = {("Amplitude", int(fid)): float(np.ptp(lc.magpsf[lc.fid == fid]) / 2)
                    for fid in np.unique(lc.fid)}
        features[("n_det", 0)] = float(len(lc))
        return Classification(
            outputs=[ClassifierOutput(self.name, self.version,
                                      dict(zip(self.classes, map(float, probabilities))))],
            features=features, feature_version=FEATURE_VERSION)


CLASSIFIERS = (
    SeededClassifier("stamp_classifier", "1.0.0", ("AGN", "SN", "VS", "asteroid", "bogus")),
    SeededClassifier("lc_classifier", "1.0.0", (
        "SNIa", "SNIbc", "SNII", "SLSN", "QSO", "AGN", "Blazar", "YSO", "CV/Nova", "LPV", "E",
        "DSCT", "RRL", "CEP", "Periodic-Other")),
    SeededClassifier("lc_classifier_top", "1.0.0", ("Transient", "Stochastic", "Periodic")),
)


def alert_files(shared_data: Path) -> list[Path]:
    return [p for d in ALERT_DIRS for p in sorted((shared_data / d).glob("*.avro"))]


def replay_into_store(url: str, files: Sequence[Path]) -> None:
    """Replay the alert files through the Worker into a new store at ``url``."""
    store = Store(url)
    store.create_all()
    report = Worker(ArchiveSource(files, batch_size=10), store, CLASSIFIERS).run()
    store.dispose()
    if report.n_dead_letters:
        raise RuntimeError(f"{report.n_dead_letters} real alerts became dead letters")
