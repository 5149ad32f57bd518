"""ALeRCE's light-curve (late) classifier: a balanced hierarchical random forest.

A top forest separates Transient, Stochastic and Periodic; one forest per group separates
that group's classes, and P(class) = P(group) · P(class | group) (Sánchez-Sáez et al. 2021).
Each forest balances its classes, the stand-in for imbalanced-learn's BalancedRandomForest:
per tree by row counts (``class_weight="balanced_subsample"``), or by total sample weight
(``ForestSettings.balance = "weight"``: every class's rows weigh the same together, and at
the top every group's, its classes equal within it). Real objects can weigh more than
simulated ones (``sample_weight``); balancing by rows counts a heavy real row as one. The top and each group's probabilities are calibrated by
one temperature each, fitted on real out-of-fold predictions at training time, so the
product still factors through the groups. Objects with fewer than six detections in both
g and r get no outputs, as in ALeRCE.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from alerce_contract.taxonomy import LC_CLASSES, LC_CLASSIFIER, LC_GROUP, LC_GROUP_CLASSIFIERS, LC_TAXONOMY, LC_TOP
from classifier_service.classifiers import artifacts
from classifier_service.classifiers.base import Classification, ClassifierInput, ClassifierOutput
from classifier_service.classifiers.temperature import scale_probabilities
from classifier_service.features import FeatureExtractor, is_classifiable
from classifier_service.lightcurve.model import LightCurve

log = logging.getLogger(__name__)

NAME = LC_CLASSIFIER
MODELS_DIR = artifacts.MODELS_DIR / NAME
ARTIFACT = "model.joblib"
MISSING = -999.0  # ALeRCE's fill value for undefined features
GROUPS: tuple[str, ...] = tuple(LC_TAXONOMY)
OUTPUT_NAMES: dict[str, str] = LC_GROUP_CLASSIFIERS
TOP_NAME = LC_TOP


@dataclass(slots=True)
class ForestSettings:
    n_estimators: int = 200
    max_depth: int | None = 14
    min_samples_leaf: int = 2
    max_features: str | float = "sqrt"
    balance: str = "rows"  # "rows": sklearn's per-tree balancing by counts; "weight": by total sample weight


class HierarchicalForest:
    """The top forest and one forest per group, fitted on one feature matrix."""

    def __init__(self, settings: ForestSettings | None = None, seed: int = 0, n_jobs: int = 1) -> None:
        self.settings = settings or ForestSettings()
        self.seed = seed
        self.n_jobs = n_jobs
        self.top: RandomForestClassifier | None = None
        self.groups: dict[str, RandomForestClassifier] = {}

    def _forest(self) -> RandomForestClassifier:
        s = self.settings
        return RandomForestClassifier(
            n_estimators=s.n_estimators, max_depth=s.max_depth, min_samples_leaf=s.min_samples_leaf,
            max_features=s.max_features, class_weight="balanced_subsample" if s.balance == "rows" else None,
            random_state=self.seed,
            n_jobs=self.n_jobs,
        )

    def fit(self, features: np.ndarray, classes: Sequence[str],
            sample_weight: np.ndarray | None = None) -> HierarchicalForest:
        """Fit on (n, n_features) and the 15-class labels; every group needs examples.

        ``sample_weight`` (real objects weigh more) multiplies the per-tree class balancing, or,
        balancing by weight, shares each class's weight among its rows.
        """
        x = prepare(features)
        y = np.asarray(classes)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        groups = np.array([LC_GROUP[c] for c in y])
        top_w = within_w = w
        if self.settings.balance == "weight":
            within_w = balanced_weights(w, y)
            top_w = balanced_weights(within_w, groups)
        self.top = self._forest().fit(x, groups, sample_weight=top_w)
        for group in GROUPS:
            members = groups == group
            if not members.any():
                raise ValueError(f"no training examples in group {group}")
            self.groups[group] = self._forest().fit(x[members], y[members], sample_weight=within_w[members])
        return self

    def predict_proba(self, features: np.ndarray, temperatures: dict[str, float] | None = None,
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """(top (n, 3) in GROUPS order, {group: (n, k) in LC_TAXONOMY order}, full (n, 15) in LC_CLASSES order).

        ``temperatures`` (keys TOP_NAME and group names; missing = 1) calibrate top and groups.
        """
        t = temperatures or {}
        x = prepare(features)
        top = scale_probabilities(_aligned(self.top, forest_proba(self.top, x), GROUPS), t.get(TOP_NAME, 1.0))
        within = {g: scale_probabilities(_aligned(f, forest_proba(f, x), LC_TAXONOMY[g]), t.get(g, 1.0))
                  for g, f in self.groups.items()}
        full = np.hstack([top[:, [i]] * within[g] for i, g in enumerate(GROUPS)])
        return top, within, full


def balanced_weights(weights: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``weights`` rescaled within each label so that every label's rows weigh the same together (mean 1)."""
    names, inverse = np.unique(labels, return_inverse=True)
    return weights / np.bincount(inverse, weights=weights)[inverse] * (len(weights) / len(names))


def prepare(features: np.ndarray) -> np.ndarray:
    """Undefined features become MISSING, as in ALeRCE's training tables."""
    return np.where(np.isfinite(features), features, MISSING).astype(np.float32)


def forest_proba(forest: RandomForestClassifier, x: np.ndarray) -> np.ndarray:
    """``forest.predict_proba(x)`` for float32 rows, the same sums in the same order, without
    sklearn's per-tree dispatch (a joblib call, a config context and input checks per tree: about
    50 ms per call of the four forests whatever the rows, the bulk of a small batch's cost)."""
    if x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != forest.n_features_in_:
        raise ValueError(f"expected float32 rows of {forest.n_features_in_} features, got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():  # as sklearn's own check: a value beyond float32's range
        raise ValueError("Input contains infinity or a value too large for dtype('float32').")
    proba = np.zeros((x.shape[0], forest.n_classes_))
    for tree in forest.estimators_:
        proba += tree.tree_.predict(x)[:, :forest.n_classes_]
    return proba / len(forest.estimators_)


def _aligned(forest: RandomForestClassifier, proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Columns in ``classes`` order, zeros for a class the forest never saw."""
    out = np.zeros((proba.shape[0], len(classes)))
    index = {c: i for i, c in enumerate(forest.classes_)}
    for j, c in enumerate(classes):
        if c in index:
            out[:, j] = proba[:, index[c]]
    return out


@dataclass(slots=True)
class LcModelBundle:
    """What the artifact file holds."""

    version: str
    feature_version: str
    feature_names: list[str]
    forest: HierarchicalForest
    temperatures: dict[str, float] = field(default_factory=dict)  # fitted on real out-of-fold predictions


class LightCurveClassifier:
    """The Classifier-protocol face of the hierarchical forest."""

    name = NAME
    surveys = frozenset({"ZTF"})

    def __init__(self, bundle: LcModelBundle, extractor: FeatureExtractor | None = None) -> None:
        self.bundle = bundle
        self.version = bundle.version
        self.extractor = extractor or FeatureExtractor()
        missing = set(bundle.feature_names) - set(self.extractor.names)
        if bundle.feature_version != self.extractor.version or missing:
            raise ValueError(
                f"{NAME} {bundle.version} was trained on feature version {bundle.feature_version}, "
                f"which does not match this code's {self.extractor.version}"
                + (f" (missing features: {sorted(missing)[:5]})" if missing else "") + "; retrain it")
        # The forest's columns, picked by name: the extractor's order does not matter.
        index = {name: i for i, name in enumerate(self.extractor.names)}
        self._columns = np.array([index[name] for name in bundle.feature_names])

    @classmethod
    def from_artifacts(cls, path: Path | str | None = None) -> LightCurveClassifier:
        """Load ``path`` (a model file or a version folder), else the newest shipped version."""
        path = Path(path) if path is not None else MODELS_DIR
        if path.is_dir():
            path = artifacts.version_dir(path, ARTIFACT) / ARTIFACT
        if not path.exists():
            raise FileNotFoundError(f"{NAME} artifact {path} does not exist")
        bundle = joblib.load(path)
        if not isinstance(bundle, LcModelBundle):
            raise ValueError(f"{path} is not a {NAME} artifact")
        return cls(bundle)

    def taxonomy(self) -> dict[str, list[str]]:
        return {
            NAME: list(LC_CLASSES),
            TOP_NAME: list(GROUPS),
            **{OUTPUT_NAMES[g]: list(LC_TAXONOMY[g]) for g in GROUPS},
        }

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        """Light curves of the batch, each distinct one computed once."""
        unique: dict[tuple, int] = {}
        curves: list[LightCurve] = []
        slots = []
        for item in batch:
            lc = item.lightcurve
            key = (lc.oid, len(lc), float(lc.mjd.max()) if len(lc) else 0.0)
            if key not in unique:
                unique[key] = len(curves)
                curves.append(lc)
            slots.append(unique[key])
        results = self.classify_lightcurves(curves)
        return [results[i] for i in slots]

    def classify_lightcurves(self, lightcurves: Sequence[LightCurve]) -> list[Classification]:
        """One Classification per light curve; empty where it has too few detections."""
        results = [Classification() for _ in lightcurves]
        eligible = [i for i, lc in enumerate(lightcurves) if is_classifiable(lc)]
        if eligible:
            eligible, features = self._features(lightcurves, eligible)
        if not eligible:
            return results
        top, within, full = self.bundle.forest.predict_proba(features[:, self._columns], self.bundle.temperatures)
        for row, i in enumerate(eligible):
            results[i] = Classification(
                outputs=self._outputs(top[row], {g: p[row] for g, p in within.items()}, full[row]),
                features=self.extractor.as_dict(features[row]),
                feature_version=self.extractor.version,
            )
        return results

    def _features(self, lightcurves: Sequence[LightCurve], eligible: list[int]) -> tuple[list[int], np.ndarray]:
        """Features of the eligible curves; if the batch fails, each alone, dropping (and logging) bad ones."""
        try:
            return eligible, self.extractor.compute([lightcurves[i] for i in eligible])[1]
        except Exception:  # one malformed light curve must not cost the batch its classifications
            log.exception("%s: feature batch failed; retrying object by object", NAME)
        kept, rows = [], []
        for i in eligible:
            try:
                rows.append(self.extractor.compute([lightcurves[i]])[1][0])
                kept.append(i)
            except Exception as exc:
                log.warning("%s: %s skipped, its features failed: %s", NAME, lightcurves[i].oid, exc)
        return kept, np.array(rows).reshape(len(kept), len(self.extractor.keys))

    def _outputs(self, top: np.ndarray, within: dict[str, np.ndarray], full: np.ndarray) -> list[ClassifierOutput]:
        def output(name: str, classes: Sequence[str], p: np.ndarray) -> ClassifierOutput:
            return ClassifierOutput(name, self.version, {c: float(v) for c, v in zip(classes, p)})

        return [
            output(NAME, LC_CLASSES, full),
            output(TOP_NAME, GROUPS, top),
            *(output(OUTPUT_NAMES[g], LC_TAXONOMY[g], within[g]) for g in GROUPS),
        ]
