"""The Rubin early classifier: the first alert's cutouts and diaSource metadata, five classes.

A balanced random forest over a small set of stamp and metadata features, not (yet) a CNN
like ALeRCE's 2025 multi-scale stamp classifier: Rubin's 30x30 stamps of 0.2" pixels are
summarised by what separates the stamp classes (is the difference a point source, is there
a host or a star in the template, how much is negative or missing) plus the diaSource's
reliability, extendedness, S/N, sign, its history count and its place on the sky (ecliptic
for asteroids, Galactic plane for stars). Trained on simulated Rubin first alerts
(``alerce-classifier train --only lsst-stamp``); it answers only for Rubin alerts.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from alerce_contract.bands import NJY_ZERO_POINT
from alerce_contract.taxonomy import STAMP_CLASSES, STAMP_CLASSIFIER_LSST
from classifier_service.alert import Alert
from classifier_service.classifiers import artifacts
from classifier_service.classifiers.base import Classification, ClassifierInput, ClassifierOutput
from classifier_service.coordinates import ecliptic_latitude, galactic_latitude
from classifier_service.cutouts import decode_cutouts

NAME = STAMP_CLASSIFIER_LSST
MODELS_DIR = artifacts.MODELS_DIR / NAME
ARTIFACT = "model.joblib"
FEATURE_VERSION = "lsst-stamp-1.1.0"  # 1.1.0: latitudes from classifier_service.coordinates
MISSING = -999.0
NAMES = (
    "reliability", "extendedness", "snr", "positive", "log_ndethist", "log_abs_flux", "ss_associated",
    "abs_ecliptic_lat", "abs_galactic_lat",
    "diff_centre_fraction", "diff_peak_over_noise", "diff_negative_fraction", "diff_psf_correlation",
    "template_centre_over_diff", "template_concentration", "science_over_template", "nan_fraction",
)


def stamp_features(science: np.ndarray, template: np.ndarray, difference: np.ndarray) -> list[float]:
    """Stamp summaries that do not depend on the stamp's size (Rubin's vary with bboxSize)."""
    nan_fraction = float(np.mean(~np.isfinite(difference)))
    sci, tpl, diff = (np.nan_to_num(np.asarray(x, dtype=float)) for x in (science, template, difference))
    cy, cx = (np.array(diff.shape) - 1) / 2
    y, x = np.indices(diff.shape)
    r = np.hypot(x - cx, y - cy)
    centre, ring = r <= 3, r >= min(diff.shape) / 2 - 3
    noise = float(np.std(diff[ring])) or 1.0
    centre_sum = float(diff[centre].sum())
    gauss = np.exp(-0.5 * (r / 2.0) ** 2)
    psf_corr = float(np.corrcoef(diff[r <= 6], gauss[r <= 6])[0, 1]) if np.std(diff[r <= 6]) > 0 else 0.0
    tpl_centre = float(tpl[centre].sum())
    return [
        centre_sum / (float(np.abs(diff).sum()) or 1.0),
        float(np.abs(diff[centre]).max()) / noise,
        float(np.mean(diff[r <= 6] < -3 * noise)),
        psf_corr,
        tpl_centre / (abs(centre_sum) or 1.0),
        tpl_centre / (float(np.abs(tpl).sum()) or 1.0),
        float(sci[centre].sum()) / (abs(tpl_centre) + abs(centre_sum) or 1.0),
        nan_fraction,
    ]


def alert_features(alert: Alert) -> np.ndarray:
    """One row of NAMES for an alert with cutouts."""
    meta, candidate = alert.metadata, alert.candidate
    flux = 10 ** (-0.4 * (candidate.magpsf - NJY_ZERO_POINT))
    row = [
        meta.get("rb", MISSING), meta.get("extendedness", MISSING), meta.get("snr", MISSING),
        float(candidate.isdiffpos > 0), float(np.log10(1 + (meta.get("ndethist") or 1))), float(np.log10(flux)),
        float(bool(meta.get("ssnamenr"))), abs(float(ecliptic_latitude(candidate.ra, candidate.dec))),
        abs(float(galactic_latitude(candidate.ra, candidate.dec))),
        *stamp_features(*decode_cutouts(alert.cutouts)),
    ]
    return np.nan_to_num(np.asarray(row, dtype=float), nan=MISSING)


@dataclass(slots=True)
class RubinStampBundle:
    version: str
    feature_version: str
    forest: RandomForestClassifier


class RubinStampClassifier:
    """Five-class probabilities for each object's first Rubin alert with cutouts."""

    name = NAME
    surveys = frozenset({"LSST"})

    def __init__(self, bundle: RubinStampBundle) -> None:
        if bundle.feature_version != FEATURE_VERSION:
            raise ValueError(f"{NAME} {bundle.version} was trained on features {bundle.feature_version}, "
                             f"not this code's {FEATURE_VERSION}; retrain it")
        self.bundle = bundle
        self.version = bundle.version

    @classmethod
    def from_artifacts(cls, path: Path | str | None = None) -> RubinStampClassifier:
        """Load ``path`` (a model file or a version folder), else the newest shipped version."""
        bundle = artifacts.load_bundle(path, MODELS_DIR, ARTIFACT, RubinStampBundle)
        return cls(bundle)

    def taxonomy(self) -> dict[str, list[str]]:
        return {NAME: list(STAMP_CLASSES)}

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n, 5) probabilities in STAMP_CLASSES order."""
        forest = self.bundle.forest
        proba = forest.predict_proba(features)
        out = np.zeros((len(features), len(STAMP_CLASSES)))
        for j, c in enumerate(STAMP_CLASSES):
            if c in forest.classes_:
                out[:, j] = proba[:, list(forest.classes_).index(c)]
        return out

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        results = [Classification() for _ in batch]
        eligible = [i for i, item in enumerate(batch) if item.is_first_alert and item.alert.cutouts.present()]
        if not eligible:
            return results
        proba = self.predict(np.vstack([alert_features(batch[i].alert) for i in eligible]))
        for row, i in enumerate(eligible):
            results[i] = Classification(
                outputs=[ClassifierOutput(NAME, self.version, dict(zip(STAMP_CLASSES, map(float, proba[row]))))],
                feature_version=FEATURE_VERSION)
        return results
