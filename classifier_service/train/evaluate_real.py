"""The shipped classifiers on every real labelled object, with intervals and training membership.

This module scores the *shipped* artifacts (not retrained) on all real labelled data present
in ``shared/data``, says whether the shipped model trained on it, and gives each metric a
95% bootstrap interval resampled by object, since most real classes hold a handful of
objects. Both shipped classifiers train on every real labelled object; their honest figures
are the cross-validation by object their training runs write into the model cards, which the
reports quote; the figures computed here measure memory.

Run: ``alerce-classifier evaluate`` (with the simulated-vs-real validation of
:mod:`classifier_service.train.adversarial`).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alerce_contract.taxonomy import LC_CLASSES, LC_GROUP
from classifier_service.train import SHARED_DATA
from classifier_service.train.bootstrap import balanced_accuracy, grouped_bootstrap, recall

log = logging.getLogger(__name__)

@dataclass(slots=True)
class Predictions:
    """True and predicted labels of real rows, the object of each row, and a subset name."""

    title: str
    y_true: np.ndarray
    y_pred: np.ndarray
    oids: np.ndarray

    def subset(self, mask: np.ndarray, title: str) -> Predictions:
        return Predictions(title, self.y_true[mask], self.y_pred[mask], self.oids[mask])


def class_report(pred: Predictions, classes: Sequence[str], *, n_resamples: int = 1000, seed: int = 0) -> str:
    """Balanced accuracy and per-class recall with object-bootstrap intervals, and the confusion."""
    if not len(pred.y_true):
        return f"{pred.title}: no objects"
    y_true, y_pred = pred.y_true, pred.y_pred
    present = [c for c in classes if (y_true == c).any()]
    lines = [f"{pred.title}: {len(y_true)} rows, {len(set(pred.oids))} objects",
             f"  balanced accuracy (mean recall over {len(present)} classes present): " + str(grouped_bootstrap(
                 lambda rows: balanced_accuracy(y_true[rows], y_pred[rows]), pred.oids,
                 n_resamples=n_resamples, seed=seed))]
    lines += class_recalls(pred, present, n_resamples=n_resamples, seed=seed)
    lines.append(confusion_text(y_true, y_pred, classes))
    return "\n".join(lines)


def class_recalls(pred: Predictions, classes: Sequence[str], *, n_resamples: int = 1000, seed: int = 0) -> list[str]:
    """One line per class present: its recall with an object-bootstrap interval, and its count."""
    lines = []
    for c in classes:
        if not (pred.y_true == c).any():
            continue
        estimate = grouped_bootstrap(lambda rows, c=c: recall(pred.y_true[rows], pred.y_pred[rows], c), pred.oids,
                                     n_resamples=n_resamples, seed=seed)
        lines.append(f"  recall {c:16s} {estimate}  (n={int((pred.y_true == c).sum())})")
    return lines


def confusion_text(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> str:
    """Counts, rows = true classes present, columns = every class predicted at least once."""
    rows = [c for c in classes if (y_true == c).any()]
    columns = [c for c in classes if (y_pred == c).any()]
    width = max(6, *(len(c) for c in columns)) + 1
    lines = ["  confusion (rows true, columns predicted):",
             "  " + " " * 16 + "".join(f"{c:>{width}s}" for c in columns)]
    for t in rows:
        lines.append(f"  {t:16s}" + "".join(
            f"{int(((y_true == t) & (y_pred == p)).sum()):>{width}d}" for p in columns))
    return "\n".join(lines)


# --- stamp classifier ---------------------------------------------------------------------

def stamp_predictions(data_dir: Path = SHARED_DATA, model_dir: Path | None = None) -> tuple[Predictions, Predictions]:
    """The shipped stamp classifier on every labelled real alert with cutouts: by alert, and by
    object (mean probability over its alerts, as the model card does)."""
    from classifier_service.classifiers.stamp_classifier import CLASSES, StampClassifier
    from classifier_service.train.stamp import real_dataset

    dataset = real_dataset(Path(data_dir))
    probabilities = StampClassifier.from_artifacts(model_dir).predict(dataset.stamps, dataset.metadata)
    classes = np.asarray(CLASSES)
    by_alert = Predictions("stamp classifier, real labelled alerts", classes[dataset.labels],
                           classes[probabilities.argmax(axis=1)], dataset.oids)
    oids, first, inverse = np.unique(dataset.oids, return_index=True, return_inverse=True)
    mean = np.zeros((len(oids), len(CLASSES)))
    np.add.at(mean, inverse, probabilities)
    by_object = Predictions("stamp classifier, real labelled objects (mean probability of their alerts)",
                            classes[dataset.labels[first]], classes[mean.argmax(axis=1)], oids)
    return by_alert, by_object


def stamp_report(data_dir: Path = SHARED_DATA, model_dir: Path | None = None, *, n_resamples: int = 1000) -> str:
    from classifier_service.classifiers.stamp_classifier import CLASSES

    from classifier_service.classifiers.stamp_classifier import MODEL_FILE, MODELS_DIR

    by_alert, by_object = stamp_predictions(data_dir, model_dir)
    card = artifacts_card(Path(model_dir) if model_dir else MODELS_DIR, MODEL_FILE)
    membership = (
        "training membership: the shipped stamp network never trained on a real label (only its softmax "
        "temperature is fitted on the alerts below), so these figures are held out. The training run's "
        "model card has them with intervals, beside fine-tuning's, cross-validated by object:\n"
        + "\n".join(card_lines(card, ("| real held-out",))))
    return "\n\n".join([
        "== stamp classifier (shipped artifact) on real labelled alerts ==", membership,
        class_report(by_alert, CLASSES, n_resamples=n_resamples),
        class_report(by_object, CLASSES, n_resamples=n_resamples)])


# --- light-curve classifier ---------------------------------------------------------------

@dataclass(slots=True)
class LcPredictions:
    bottom: Predictions
    top: Predictions
    sources: np.ndarray  # bts / alerce_30_sne / fink_alerts

    def subset(self, mask: np.ndarray, title: str) -> LcPredictions:
        return LcPredictions(self.bottom.subset(mask, title), self.top.subset(mask, title), self.sources[mask])


def lc_predictions(data_dir: Path = SHARED_DATA, model_path: Path | None = None,
                   bts_limit: int | None = None) -> LcPredictions:
    """The shipped light-curve classifier on every real labelled light curve it can classify."""
    from classifier_service.classifiers.lc_classifier import NAME, TOP_NAME, LightCurveClassifier
    from classifier_service.train.lightcurve import _argmax as argmax
    from classifier_service.train.lightcurve import real_set

    real = real_set(Path(data_dir), bts_limit, None)  # classifiable light curves only
    results = LightCurveClassifier.from_artifacts(model_path).classify_lightcurves(real.lightcurves)

    oids = np.asarray([lc.oid for lc in real.lightcurves])
    classes = np.asarray(real.classes)
    title = "light-curve classifier, all real labelled objects"
    return LcPredictions(
        bottom=Predictions(title, classes, np.asarray([argmax(r, NAME) for r in results]), oids),
        top=Predictions(title, np.asarray([LC_GROUP[c] for c in classes]),
                        np.asarray([argmax(r, TOP_NAME) for r in results]), oids),
        sources=np.asarray(real.sources),
    )


def artifacts_card(model_path: Path, artifact: str) -> Path:
    """The model card beside a shipped artifact (``model_path``: a version folder or the models folder)."""
    from classifier_service.classifiers import artifacts
    from classifier_service.train.model_card import MODEL_CARD

    return artifacts.version_dir(model_path, artifact) / MODEL_CARD


def card_lines(card: Path, prefixes: tuple[str, ...]) -> list[str]:
    """The cross-validated rows of a model card: the honest figures, written by its training run."""
    if not card.exists():
        return [f"  (no model card at {card})"]
    return ["  " + line for line in card.read_text().splitlines() if line.startswith(prefixes)]


def lc_report(data_dir: Path = SHARED_DATA, model_path: Path | None = None, *, bts_limit: int | None = None,
              n_resamples: int = 1000) -> str:
    from classifier_service.classifiers.lc_classifier import ARTIFACT, GROUPS, MODELS_DIR

    pred = lc_predictions(data_dir, model_path, bts_limit)
    not_bts = pred.sources != "bts"
    membership = (
        "training membership: the shipped model trained on every real labelled object below, so these "
        "figures measure memory, not generalisation. The honest figures are out of fold: grouped "
        "cross-validation by object over all real labelled data, a forest refitted per fold, written "
        "by the training run into the model card:\n" + "\n".join(card_lines(
            artifacts_card(Path(model_path) if model_path else MODELS_DIR, ARTIFACT),
            ("| real out-of-fold", "| BTS entirely out of training"))))
    parts = ["== light-curve classifier (shipped artifact) on real labelled light curves ==", membership]
    for mask, title in ((not_bts, "SEEN IN TRAINING, without BTS (memory)"), (~not_bts, "SEEN IN TRAINING, BTS SN Ia")):
        sub = pred.subset(mask, title)
        parts.append(class_report(Predictions(f"{title} — top level", sub.top.y_true, sub.top.y_pred,
                                              sub.top.oids), GROUPS, n_resamples=n_resamples))
        parts.append(class_report(Predictions(f"{title} — bottom level", sub.bottom.y_true, sub.bottom.y_pred,
                                              sub.bottom.oids), LC_CLASSES, n_resamples=n_resamples))
    return "\n\n".join(parts)
