"""The Rubin late classifier: a balanced hierarchical random forest on multi-band flux features.

The same forest as ZTF's light-curve classifier (top Transient/Stochastic/Periodic, then one
forest per group, balanced per tree) over :mod:`rubin_features`, trained on simulated Rubin
light curves (``alerce-classifier train --only lsst-lc``). Taxonomy: ALeRCE's 15 classes,
because the simulator's physical models are those 15 (ELAsTiCC's classes such as kilonovae,
TDEs or M-dwarf flares have no model here, so a forest could not learn them honestly). It
answers only for Rubin alerts, from six detections on.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alerce_contract.taxonomy import LC_CLASSES, LC_CLASSIFIER_LSST, LC_MIN_DETECTIONS_LSST, LC_TOP_LSST
from classifier_service.classifiers import artifacts
from classifier_service.classifiers.base import Classification, ClassifierInput, ClassifierOutput
from classifier_service.classifiers.lc_classifier import GROUPS, HierarchicalForest
from classifier_service.classifiers.rubin_features import FEATURE_VERSION, NAMES, feature_matrix

NAME = LC_CLASSIFIER_LSST
TOP_NAME = LC_TOP_LSST
MODELS_DIR = artifacts.MODELS_DIR / NAME
ARTIFACT = "model.joblib"
MIN_DETECTIONS = LC_MIN_DETECTIONS_LSST  # the contract's rule: in its six bands together


@dataclass(slots=True)
class RubinLcBundle:
    """What the artifact file holds."""

    version: str
    feature_version: str
    feature_names: list[str]
    forest: HierarchicalForest


class RubinLightCurveClassifier:
    """The Classifier-protocol face of the Rubin forest."""

    name = NAME
    surveys = frozenset({"LSST"})

    def __init__(self, bundle: RubinLcBundle) -> None:
        if bundle.feature_version != FEATURE_VERSION or list(bundle.feature_names) != list(NAMES):
            raise ValueError(f"{NAME} {bundle.version} was trained on features {bundle.feature_version}, "
                             f"not this code's {FEATURE_VERSION}; retrain it")
        self.bundle = bundle
        self.version = bundle.version

    @classmethod
    def from_artifacts(cls, path: Path | str | None = None) -> RubinLightCurveClassifier:
        """Load ``path`` (a model file or a version folder), else the newest shipped version."""
        bundle = artifacts.load_bundle(path, MODELS_DIR, ARTIFACT, RubinLcBundle)
        return cls(bundle)

    def taxonomy(self) -> dict[str, list[str]]:
        return {NAME: list(LC_CLASSES), TOP_NAME: list(GROUPS)}

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        """Probabilities for every light curve of six detections or more; empty for the rest."""
        results = [Classification() for _ in batch]
        eligible = [i for i, item in enumerate(batch) if len(item.lightcurve) >= MIN_DETECTIONS]
        if not eligible:
            return results
        features = feature_matrix([batch[i].lightcurve for i in eligible])
        top, _, full = self.bundle.forest.predict_proba(features)
        for row, i in enumerate(eligible):
            results[i] = Classification(
                outputs=[ClassifierOutput(NAME, self.version, dict(zip(LC_CLASSES, map(float, full[row])))),
                         ClassifierOutput(TOP_NAME, self.version, dict(zip(GROUPS, map(float, top[row]))))],
                features={(name, 0): float(v) for name, v in zip(NAMES, features[row]) if np.isfinite(v)},
                feature_version=FEATURE_VERSION,
            )
        return results

