"""Train the Rubin late classifier on simulated Rubin light curves, and write its model card.

Each training object is simulated by :mod:`classifier_service.simulate.rubin` (the ZTF
simulator's physical models observed through Rubin), sent as the Rubin alert of its last
detection tonight, parsed by the real adapter and turned into a light curve exactly as the
worker does; a stratified quarter is held out for the card's metrics. Everything here is
simulated: no labelled real Rubin light curve of these classes exists in ../shared/data.
Seeded: the same seed gives the same model.
"""
from __future__ import annotations

import logging
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split

from alerce_contract.taxonomy import LC_CLASSES, LC_GROUP
from classifier_service.classifiers.lc_classifier import GROUPS, ForestSettings, HierarchicalForest
from classifier_service.classifiers.rubin_features import FEATURE_VERSION, NAMES, feature_matrix
from classifier_service.classifiers.rubin_lc_classifier import ARTIFACT, MIN_DETECTIONS, NAME, RubinLcBundle
from classifier_service.lightcurve import LightCurve, build_lightcurve
from classifier_service.simulate.rubin import DEFAULT_START_MJD, RubinIds, alert_record, encode, simulate_rubin_object
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.train.model_card import ConfusionMatrix, ModelCard, write_model_card

VERSION = "1.3.0"  # 1.3.0: the simulator puts stars where GCVS has them (was a Laplace profile of 6 deg toward the bulge)
PER_CLASS = {"full": 120, "quick": 12}
SETTINGS = {"full": ForestSettings(n_estimators=150, max_depth=12), "quick": ForestSettings(n_estimators=20, max_depth=8)}
MAX_TRIES_PER_OBJECT = 20
log = logging.getLogger(__name__)


def simulated_lightcurves(per_class: int, seed: int) -> tuple[list[LightCurve], list[str]]:
    """``per_class`` light curves of every class with MIN_DETECTIONS or more, over a season of nights."""
    rng = np.random.default_rng(seed)
    ids = RubinIds(rng)
    curves, labels = [], []
    for class_name in LC_CLASSES:
        kept = 0
        for _ in range(per_class * MAX_TRIES_PER_OBJECT):
            if kept == per_class:
                break
            night = np.floor(DEFAULT_START_MJD + rng.uniform(0, 180))
            obj = simulate_rubin_object(class_name, rng, ids, night)
            if obj.class_name != class_name:  # too faint to be seen: it came back as bogus
                continue
            alert = parse_record(next(iter_records(encode(alert_record(obj, len(obj.alert_rows) - 1, rng)))))
            lc = build_lightcurve(alert.oid, alert.detections, (), alert.metadata)
            if len(lc) >= MIN_DETECTIONS:
                curves.append(lc)
                labels.append(class_name)
                kept += 1
        if kept < per_class:
            log.warning("%s: only %d of %d simulated objects had %d detections", class_name, kept, per_class,
                        MIN_DETECTIONS)
    return curves, labels


def train_rubin_lc_classifier(out: Path, quick: bool = False, seed: int = 0) -> Path:
    """Simulate, fit, evaluate on the held-out quarter; write OUT/<version>/ (model + card)."""
    mode = "quick" if quick else "full"
    curves, labels = simulated_lightcurves(PER_CLASS[mode], seed)
    x, y = feature_matrix(curves), np.asarray(labels)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    forest = HierarchicalForest(SETTINGS[mode], seed=seed).fit(x_train, y_train)
    top, _, full = forest.predict_proba(x_test)
    predicted = np.asarray(LC_CLASSES)[full.argmax(1)]
    predicted_group = np.asarray(GROUPS)[top.argmax(1)]
    true_group = np.array([LC_GROUP[c] for c in y_test])
    target = Path(out) / VERSION
    target.mkdir(parents=True, exist_ok=True)
    joblib.dump(RubinLcBundle(VERSION, FEATURE_VERSION, list(NAMES), forest), target / ARTIFACT, compress=3)
    recalls = recall_score(y_test, predicted, labels=list(LC_CLASSES), average=None, zero_division=0)
    bottom = ConfusionMatrix.from_predictions("simulated held-out bottom level", LC_CLASSES, y_test, predicted)
    groups = ConfusionMatrix.from_predictions("simulated held-out top level", GROUPS, true_group, predicted_group)
    write_model_card(ModelCard(
        name=NAME, version=VERSION,
        summary=("Rubin late classifier: balanced hierarchical random forest over multi-band difference-flux "
                 "features (u g r i z y, nJy), ALeRCE's 15 classes. **Trained and evaluated on simulated Rubin "
                 "light curves only** (the ZTF simulator's physical models observed through Rubin's depths and "
                 "cadence); its numbers say how well it separates the simulator's classes, not real Rubin ones."
                 + (" Quick mode: a smoke-test model, not for shipping." if quick else "")),
        data={"simulated objects (one light curve each, >= 6 detections)": len(y),
              "training": len(y_train), "held out (stratified 25%)": len(y_test), "seed": seed,
              "feature version": FEATURE_VERSION, "features": len(NAMES)},
        metrics={"held-out accuracy (15 classes)": float(np.mean(predicted == y_test)),
                 "held-out balanced accuracy (15 classes)": float(balanced_accuracy_score(y_test, predicted)),
                 "held-out accuracy (top level)": float(np.mean(predicted_group == true_group)),
                 **{f"recall {c}": float(r) for c, r in zip(LC_CLASSES, recalls)}},
        confusion_matrices=[bottom, groups],
        sections={
            "Confusion matrix (simulated held out, counts; rows true, columns predicted)": _markdown(bottom),
            "Real Rubin alerts": (
                "The 32 real alerts in ../shared/data/lsst_alerts carry no label of these 15 classes (no "
                "crossmatch there names one), so no real-data metric is given. Their solar-system sources are "
                "not this classifier's business: it answers only for light curves of six detections or more."),
            "Limits": (
                "Simulated depths, cadence and seasons are simplified wide-fast-deep (see "
                "classifier_service/simulate/rubin.py); no ELAsTiCC classes; features on the alert's "
                "detections only (forced photometry not used)."),
        },
    ), target)
    return target


def _markdown(matrix: ConfusionMatrix) -> str:
    head = "| true \\ predicted | " + " | ".join(matrix.labels) + " |"
    rule = "|---" * (len(matrix.labels) + 1) + "|"
    rows = [f"| {label} | " + " | ".join(str(int(v)) for v in row) + " |" for label, row in zip(matrix.labels, matrix.counts)]
    return "\n".join([head, rule, *rows])
