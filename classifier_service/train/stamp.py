"""Train, export and evaluate the stamp classifier (ALeRCE's early classifier).

Three kinds of data, in two stages. Pre-training: simulated stamps of all five classes (the
simulator's physics: PSFs, hosts, subtraction residuals, cosmic rays, moving objects) and
simulated sources injected into real, unlabelled ZTF cutouts (real noise, PSF wings, field
stars, subtraction residuals). Fine-tuning: every real labelled alert with cutouts in
``shared/data`` (Fink's SIMBAD/TNS labels mapped by :mod:`.labels`, known asteroids by
``ssnamenr``/``ssdistnr``), with a replay of simulated ones. The real figures come from a
k-fold cross-validation by object, so no detection of a scored object is ever seen in its
fold's training; the softmax temperature is fitted on those out-of-fold predictions. The
model is exported to ONNX and the held-out simulated figures come from the very classifier
the worker runs.
"""
from __future__ import annotations

import copy
import json
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier_service.alert import Alert
from classifier_service.classifiers.stamp_classifier import (
    CLASSES,
    CUTOUT_SIZE,
    METADATA_NAMES,
    MODEL_FILE,
    STAMP_SIZE,
    STATS_FILE,
    CutoutError,
    StampClassifier,
    alert_inputs,
    metadata_features,
    prepare_stamps,
)
from classifier_service.classifiers.temperature import softmax
from classifier_service.cutouts import decode_cutouts
from classifier_service.simulate import simulate_stamp_example
from classifier_service.simulate.stamps import draw_scene, inject, off_centre_background, on_real_image, scene_metadata
from classifier_service.surveys import AlertParseError, parse_record
from classifier_service.train.bootstrap import balanced_accuracy, grouped_bootstrap, recall
from classifier_service.train.calibration import TemperatureScaling, reliability, save_reliability_png
from classifier_service.train.labels import iter_alert_records, label_alert_record, stamp_class_from_lc_class
from classifier_service.train.model_card import ConfusionMatrix, ModelCard, write_model_card

log = logging.getLogger(__name__)

VERSION = "1.1.0"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ASTEROID_MAX_DIST_ARCSEC = 5.0
K_FOLDS = 5
BATCH = 128
# Injection windows: 20 px off the real candidate in the 8 directions (beyond the 21x21 crop).
INJECTION_SHIFTS = tuple((dy, dx) for dy in (-20, 0, 20) for dx in (-20, 0, 20) if (dy, dx) != (0, 0))
REAL_FWHM_RANGE = (1.2, 6.0)  # candidate fwhm outside it is a cosmic ray or a blend, not the seeing
REAL_WEIGHT = 4.0  # in fine-tuning, one real alert counts as this many simulated ones
REPLAY = 100  # simulated alerts per class replayed during fine-tuning (on average)
FINE_TUNE_LR = 5e-4
RELIABILITY_PNG = "reliability_real_out_of_fold.png"


@dataclass(slots=True)
class StampDataset:
    """Prepared network inputs with their labels and the object each row belongs to."""

    stamps: np.ndarray  # (N, 3, S, S) float32
    metadata: np.ndarray  # (N, F) float32, raw (not yet standardised)
    labels: np.ndarray  # (N,) int index into CLASSES
    oids: np.ndarray  # (N,) str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> StampDataset:
        return StampDataset(self.stamps[mask], self.metadata[mask], self.labels[mask], self.oids[mask])

    @staticmethod
    def concat(parts: Sequence[StampDataset]) -> StampDataset:
        return StampDataset(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                              ("stamps", "metadata", "labels", "oids")))

    def class_counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(CLASSES)}


# --- data -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RealBackground:
    """A real unlabelled 63x63 triplet to inject sources into, with its image's photometry."""

    cutouts: np.ndarray  # (3, 63, 63) float32: science, template, difference as ZTF sent them
    zero_point: float  # magzpsci
    fwhm: float  # seeing (pixels), the candidate's
    sky_sigma: float  # robust noise of the science image


def simulated_dataset(n_per_class: int, seed: int) -> StampDataset:
    """``n_per_class`` simulated first alerts of every class, cutouts and metadata consistent."""
    rng = np.random.default_rng(seed)
    stamps, metadata, labels = [], [], []
    for label, class_name in enumerate(CLASSES):
        for _ in range(n_per_class):
            cutouts, candidate = simulate_stamp_example(class_name, rng)
            stamps.append(prepare_stamps(list(cutouts)))
            metadata.append(metadata_features(candidate))
            labels.append(label)
    return StampDataset(np.stack(stamps), np.stack(metadata), np.asarray(labels),
                        np.asarray([f"sim{seed}_{i}" for i in range(len(labels))]))


def injected_dataset(n_per_class: int, seed: int, backgrounds: Sequence[RealBackground]) -> StampDataset:
    """``n_per_class`` simulated sources of every class injected into real cutouts.

    Each example takes a random real triplet and one of the eight windows 20 px off its
    candidate (real sky, noise, PSF, field stars, subtraction residuals), rescales a
    simulated scene to that image's zero point and seeing, and adds its source, host and
    (for bogus) artefacts. The metadata is the simulated scene's.
    """
    if not backgrounds:
        raise ValueError("no real backgrounds to inject into")
    rng = np.random.default_rng(seed)
    stamps, metadata, labels = [], [], []
    for label, class_name in enumerate(CLASSES):
        for _ in range(n_per_class):
            real = backgrounds[rng.integers(len(backgrounds))]
            shift = INJECTION_SHIFTS[rng.integers(len(INJECTION_SHIFTS))]
            scene = on_real_image(draw_scene(class_name, rng), real.zero_point, real.fwhm, real.sky_sigma)
            cutouts = inject(scene, off_centre_background(real.cutouts, shift), rng)
            stamps.append(prepare_stamps(list(cutouts)))
            metadata.append(metadata_features(scene_metadata(scene, rng)))
            labels.append(label)
    return StampDataset(np.stack(stamps), np.stack(metadata), np.asarray(labels),
                        np.asarray([f"inj{seed}_{i}" for i in range(len(labels))]))


def stamp_label(record: dict[str, Any]) -> str | None:
    """Known asteroid (MPC match within 5"), else the SIMBAD/TNS label mapped to AGN/SN/VS.

    No real bogus labels exist in the shared data (real/bogus scores are model outputs, not
    truth), so bogus is learned from simulated artefacts only.
    """
    candidate = record.get("candidate") or {}
    name, dist = candidate.get("ssnamenr"), candidate.get("ssdistnr")
    if name not in (None, "", "null") and dist is not None and 0 <= dist <= ASTEROID_MAX_DIST_ARCSEC:
        return "asteroid"
    lc_class = label_alert_record(record)
    return None if lc_class is None else stamp_class_from_lc_class(lc_class)


def load_real(data_dir: Path = SHARED_DATA) -> tuple[StampDataset, list[RealBackground]]:
    """Every labelled real alert with three usable cutouts as network inputs, and every
    unlabelled full-size one of another object as a background for injection (so no labelled
    object's pixels ever reach training through a background)."""
    stamps, metadata, labels, oids = [], [], [], []
    unlabelled: dict[int, tuple[str, RealBackground]] = {}
    seen: set[int] = set()
    for record in iter_alert_records(Path(data_dir)):
        candidate = record.get("candidate") or {}
        label, candid = stamp_label(record), candidate.get("candid")
        if candid in seen or (label is None and candid in unlabelled):
            continue
        try:
            alert = parse_record(record)
            if label is None:
                background = _background(alert, candidate)
                if background is not None:
                    unlabelled[candid] = (alert.oid, background)
                continue
            seen.add(candid)
            stamp, features = alert_inputs(alert)
        except (AlertParseError, CutoutError) as exc:
            log.info("real alert %s skipped: %s", record.get("objectId"), exc)
            continue
        stamps.append(stamp)
        metadata.append(features)
        labels.append(CLASSES.index(label))
        oids.append(alert.oid)
    if not labels:
        raise FileNotFoundError(f"no labelled alerts with cutouts under {data_dir}")
    labelled = StampDataset(np.stack(stamps), np.stack(metadata), np.asarray(labels), np.asarray(oids))
    return labelled, [b for candid, (oid, b) in unlabelled.items() if candid not in seen and oid not in set(oids)]


def real_dataset(data_dir: Path = SHARED_DATA) -> StampDataset:
    """Every labelled real alert with three usable cutouts, as network inputs."""
    return load_real(data_dir)[0]


def _background(alert: Alert, candidate: dict[str, Any]) -> RealBackground | None:
    """The alert's cutouts as an injection background, if full-size, finite and calibrated."""
    zero_point, fwhm = candidate.get("magzpsci"), candidate.get("fwhm")
    if not alert.cutouts.present() or not zero_point or not fwhm or fwhm <= 0:
        return None
    images = decode_cutouts(alert.cutouts)
    if any(image.shape != (CUTOUT_SIZE, CUTOUT_SIZE) for image in images):
        return None
    cube = np.stack(images).astype(np.float32)
    if not np.isfinite(cube).all():
        return None
    science = cube[0]
    sky_sigma = 1.4826 * float(np.median(np.abs(science - np.median(science))))
    return RealBackground(cube, float(zero_point), float(np.clip(fwhm, *REAL_FWHM_RANGE)), sky_sigma)


# --- model ------------------------------------------------------------------------------

def build_model(n_metadata: int = len(METADATA_NAMES), n_classes: int = len(CLASSES)):
    """The rotation-invariant CNN: shared conv tower over the four 90° rotations, averaged.

    Averaging the embeddings of the four rotations (ALeRCE's cyclic pooling) makes the
    output exactly invariant to 90° rotations; the metadata joins after the conv layers. The
    exported softmax divides the logits by ``temperature``, fitted on real out-of-fold
    predictions (1 until then).
    """
    import torch
    from torch import nn

    class StampCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convolutions = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(32 * (STAMP_SIZE // 4) ** 2, 64), nn.ReLU(),
            )
            self.head = nn.Sequential(
                nn.Linear(64 + n_metadata, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, n_classes))
            self.register_buffer("temperature", torch.ones(()))

        def forward(self, stamps: torch.Tensor, metadata: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.logits(stamps, metadata) / self.temperature, dim=1)

        def logits(self, stamps: torch.Tensor, metadata: torch.Tensor) -> torch.Tensor:
            rotated = [stamps]
            for _ in range(3):  # rot90 as transpose + flip, which every ONNX opset exports
                rotated.append(rotated[-1].transpose(2, 3).flip(2))
            embedding = self.convolutions(torch.cat(rotated, dim=0))
            embedding = embedding.reshape(4, -1, embedding.shape[1]).mean(dim=0)
            return self.head(torch.cat([embedding, metadata], dim=1))

    return StampCNN()


def fit(train: StampDataset, mean: np.ndarray, std: np.ndarray, *, epochs: int, seed: int,
        sample_weight: np.ndarray | None = None, model=None, max_lr: float = 3e-3):
    """AdamW, one-cycle schedule, class-balanced weighted cross-entropy; random transposes add
    reflections to the rotations the network already averages over (the only augmentations
    the physics allows: no rescaling of flux). Starts from ``model`` when given (fine-tuning)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model() if model is None else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-4)
    sample_weight = np.ones(len(train)) if sample_weight is None else sample_weight
    class_mass = np.bincount(train.labels, weights=sample_weight, minlength=len(CLASSES))
    class_weight = np.where(class_mass > 0, class_mass.sum() / np.maximum(class_mass, 1e-9) / len(CLASSES), 0)
    weights = torch.tensor(sample_weight * class_weight[train.labels], dtype=torch.float32)
    stamps = torch.from_numpy(train.stamps)
    metadata = torch.from_numpy(((train.metadata - mean) / std).astype(np.float32))
    labels = torch.from_numpy(train.labels.astype(np.int64))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=epochs * (-(-len(train) // BATCH)))
    model.train()
    for epoch in range(epochs):
        order = torch.from_numpy(rng.permutation(len(train)))
        total = 0.0
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            batch = stamps[idx]
            if rng.random() < 0.5:
                batch = batch.transpose(2, 3)
            loss = torch.nn.functional.cross_entropy(model.logits(batch, metadata[idx]), labels[idx],
                                                     reduction="none")
            loss = (loss * weights[idx]).sum() / weights[idx].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        log.info("stamp epoch %d/%d: loss %.4f", epoch + 1, epochs, total / len(train))
    return model.eval()


def fine_tune(pretrained, real: StampDataset, replay: StampDataset, mean: np.ndarray, std: np.ndarray, *,
              epochs: int, seed: int):
    """A copy of the pre-trained model trained further on real alerts (each weighted as
    ``REAL_WEIGHT`` simulated ones) mixed with a replay of simulated ones, so the classes real
    data lacks (bogus) are not forgotten."""
    weights = np.concatenate([np.full(len(real), REAL_WEIGHT), np.ones(len(replay))])
    return fit(StampDataset.concat([real, replay]), mean, std, epochs=epochs, seed=seed, sample_weight=weights,
               model=copy.deepcopy(pretrained), max_lr=FINE_TUNE_LR)


def predict_logits(model, dataset: StampDataset, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(N, classes) logits of the torch model (before temperature), in batches."""
    import torch

    metadata = ((dataset.metadata - mean) / std).astype(np.float32)
    with torch.no_grad():
        return np.concatenate([model.logits(torch.from_numpy(dataset.stamps[i:i + 512]),
                                            torch.from_numpy(metadata[i:i + 512])).numpy()
                               for i in range(0, len(dataset), 512)]) if len(dataset) else np.empty((0, len(CLASSES)))


def object_folds(dataset: StampDataset, k: int, seed: int) -> np.ndarray:
    """Fold index of every row: objects (never alerts) dealt to ``k`` folds class by class, so
    each fold holds about a k-th of every class and all alerts of an object share a fold."""
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    start = 0
    for label in np.unique(dataset.labels):
        oids = np.unique(dataset.oids[dataset.labels == label])
        rng.shuffle(oids)
        for i, oid in enumerate(o for o in oids if o not in fold_of):
            fold_of[oid] = (start + i) % k
        start += len(oids)  # the next class starts where this one stopped: folds stay even
    return np.asarray([fold_of[oid] for oid in dataset.oids])


def cross_validated_logits(pretrained, real: StampDataset, replay: StampDataset, mean: np.ndarray,
                           std: np.ndarray, *, k: int, epochs: int, seed: int) -> np.ndarray:
    """Out-of-fold logits of every real alert: for each of ``k`` folds of objects, the
    pre-trained model fine-tuned on the other folds predicts this one. (Pre-training sees no
    labelled real object, so it need not be repeated per fold.)"""
    folds = object_folds(real, k, seed)
    logits = np.zeros((len(real), len(CLASSES)), dtype=np.float32)
    for fold in range(k):
        test = folds == fold
        model = fine_tune(pretrained, real.subset(~test), replay, mean, std, epochs=epochs, seed=seed + fold)
        logits[test] = predict_logits(model, real.subset(test), mean, std)
    return logits


def per_object(probabilities: np.ndarray, labels: np.ndarray, oids: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(object ids, their labels, mean probability of their alerts): one vote per object."""
    unique, first, inverse = np.unique(oids, return_index=True, return_inverse=True)
    mean = np.zeros((len(unique), probabilities.shape[1]))
    np.add.at(mean, inverse, probabilities)
    return unique, labels[first], mean / np.bincount(inverse)[:, None]


def export_onnx(model, path: Path) -> Path:
    """The softmax output graph with a dynamic batch axis (onnxscript-free legacy exporter)."""
    import torch

    example = (torch.zeros(2, 3, STAMP_SIZE, STAMP_SIZE), torch.zeros(2, len(METADATA_NAMES)))
    with warnings.catch_warnings():  # the legacy exporter warns of its own deprecation
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, example, str(path), input_names=["stamps", "metadata"], output_names=["probabilities"],
            dynamic_axes={"stamps": {0: "batch"}, "metadata": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=17, dynamo=False)
    return path


# --- evaluation -------------------------------------------------------------------------

def evaluate(classifier: StampClassifier, dataset: StampDataset, title: str) -> tuple[dict, ConfusionMatrix]:
    """Balanced accuracy and per-class recall over the classes present, and the confusion matrix."""
    predicted = classifier.predict(dataset.stamps, dataset.metadata).argmax(axis=1)
    return recall_metrics(title, dataset.labels, predicted)


def recall_metrics(title: str, labels: np.ndarray, predicted: np.ndarray) -> tuple[dict, ConfusionMatrix]:
    recalls = {CLASSES[c]: float((predicted[labels == c] == c).mean()) for c in np.unique(labels)}
    metrics: dict[str, float | str] = {f"{title}: balanced accuracy": float(np.mean(list(recalls.values())))}
    metrics[f"{title}: accuracy"] = float((predicted == labels).mean())
    metrics.update({f"{title}: recall {c}": r for c, r in recalls.items()})
    matrix = ConfusionMatrix.from_predictions(
        title, CLASSES, [CLASSES[i] for i in labels], [CLASSES[i] for i in predicted])
    return metrics, matrix


def interval_metrics(title: str, labels: np.ndarray, predicted: np.ndarray, groups: np.ndarray,
                     n_resamples: int) -> tuple[dict, ConfusionMatrix]:
    """As :func:`recall_metrics`, each figure with its 95% interval from resampling objects."""
    classes = np.asarray(CLASSES)
    y_true, y_pred = classes[labels], classes[predicted]
    metrics: dict[str, float | str] = {f"{title}: balanced accuracy": str(grouped_bootstrap(
        lambda rows: balanced_accuracy(y_true[rows], y_pred[rows]), groups, n_resamples=n_resamples))}
    metrics[f"{title}: accuracy"] = float((y_pred == y_true).mean())
    for c in classes[np.unique(labels)]:
        metrics[f"{title}: recall {c} (n={int((y_true == c).sum())})"] = str(grouped_bootstrap(
            lambda rows, c=c: recall(y_true[rows], y_pred[rows], c), groups, n_resamples=n_resamples))
    return metrics, ConfusionMatrix.from_predictions(title, CLASSES, list(y_true), list(y_pred))


def time_per_alert_ms(classifier: StampClassifier, dataset: StampDataset, batch: int = 256) -> float:
    """Median over repeats of one batched onnxruntime call, per alert (one thread)."""
    idx = np.arange(batch) % len(dataset)
    stamps, metadata = dataset.stamps[idx], dataset.metadata[idx]
    classifier.predict(stamps, metadata)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        classifier.predict(stamps, metadata)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)) / batch


# --- entry point ------------------------------------------------------------------------

def train_stamp_classifier(out_dir: Path, *, quick: bool = False, seed: int = 0,
                           data_dir: Path = SHARED_DATA) -> Path:
    """Pre-train on simulated and injected alerts, fine-tune on real ones, calibrate on real
    out-of-fold predictions; write ``out_dir/<version>/`` and return it.

    Evaluation is a k-fold cross-validation by object over every real labelled alert: the
    same fine-tuning, repeated per fold from the one pre-trained model. ``quick`` trains a
    small model in well under a minute (for tests).
    """
    import torch

    torch.set_num_threads(1 if quick else 2)
    started = time.perf_counter()
    n_sim, n_inj, epochs, tune_epochs, k = (30, 30, 2, 2, 2) if quick else (400, 600, 8, 6, K_FOLDS)
    n_resamples = 100 if quick else 1000
    real, backgrounds = load_real(data_dir)
    simulated = simulated_dataset(n_sim, seed)
    injected = injected_dataset(n_inj, seed + 1, backgrounds)
    simulated_test = simulated_dataset(max(20, n_sim // 5), seed + 1000)
    injected_test = injected_dataset(max(20, n_inj // 5), seed + 2000, backgrounds)
    pretrain = StampDataset.concat([simulated, injected])
    mean = pretrain.metadata.mean(axis=0)
    std = np.maximum(pretrain.metadata.std(axis=0), 1e-3)
    pretrained = fit(pretrain, mean, std, epochs=epochs, seed=seed)
    replay = pretrain.subset(np.random.default_rng(seed).permutation(len(pretrain)) < REPLAY * len(CLASSES))

    pretrained_only = softmax(predict_logits(pretrained, real, mean, std))
    oof = softmax(cross_validated_logits(pretrained, real, replay, mean, std, k=k, epochs=tune_epochs, seed=seed))
    calibration = TemperatureScaling.fit(oof, real.labels)
    calibrated = calibration.apply(oof)
    model = fine_tune(pretrained, real, replay, mean, std, epochs=tune_epochs, seed=seed)
    model.temperature.fill_(calibration.temperature)

    version_dir = Path(out_dir) / VERSION
    version_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(model, version_dir / MODEL_FILE)
    (version_dir / STATS_FILE).write_text(json.dumps({
        "version": VERSION, "classes": list(CLASSES), "features": list(METADATA_NAMES),
        "stamp_size": STAMP_SIZE, "mean": mean.tolist(), "std": std.tolist(),
        "temperature": calibration.temperature,
    }, indent=1))
    classifier = StampClassifier.from_artifacts(version_dir)

    oids, object_labels, object_probabilities = per_object(calibrated, real.labels, real.oids)
    _, _, pretrained_objects = per_object(pretrained_only, real.labels, real.oids)
    object_metrics, object_matrix = interval_metrics(
        "real held-out objects", object_labels, object_probabilities.argmax(axis=1), oids, n_resamples)
    alert_metrics, alert_matrix = interval_metrics(
        "real held-out alerts", real.labels, calibrated.argmax(axis=1), real.oids, n_resamples)
    before_metrics, _ = interval_metrics("real objects, pre-trained model only (no real label seen)",
                                         object_labels, pretrained_objects.argmax(axis=1), oids, n_resamples)
    sim_metrics, sim_matrix = evaluate(classifier, simulated_test, "simulated held-out")
    inj_metrics, inj_matrix = evaluate(classifier, injected_test, "injected into real cutouts, held-out")
    curves = {"uncalibrated": reliability(oof, real.labels),
              f"temperature {calibration.temperature:.2f}": reliability(calibrated, real.labels)}
    save_reliability_png(curves, version_dir / RELIABILITY_PNG,
                         "stamp classifier: real alerts, out-of-fold")
    metrics = {**object_metrics, **alert_metrics, **before_metrics, **sim_metrics, **inj_metrics,
               "temperature (fitted on real out-of-fold alerts)": calibration.temperature,
               **{f"expected calibration error, real out-of-fold alerts, {name}": curve.ece
                  for name, curve in curves.items()},
               "onnxruntime ms per alert (1 thread, batch 256)": time_per_alert_ms(classifier, simulated_test)}
    card = _model_card(metrics, [object_matrix, alert_matrix, sim_matrix, inj_matrix],
                       dict(simulated=simulated, injected=injected, real=real, simulated_test=simulated_test,
                            injected_test=injected_test), len(backgrounds), k, quick, seed,
                       time.perf_counter() - started)
    write_model_card(card, version_dir)
    log.info("stamp classifier %s written to %s", VERSION, version_dir)
    return version_dir


def _model_card(metrics, matrices, datasets: dict[str, StampDataset], n_backgrounds: int, k: int, quick: bool,
                seed: int, seconds: float) -> ModelCard:
    def counts(dataset: StampDataset) -> str:
        return f"{len(dataset)} alerts of {len(set(dataset.oids))} objects: " + ", ".join(
            f"{c} {n}" for c, n in dataset.class_counts().items())

    return ModelCard(
        name="stamp_classifier",
        version=VERSION,
        summary=(
            "ALeRCE-style early classifier (Carrasco-Davis et al. 2021): science, template and "
            f"difference cutouts of an object's first alert (central {STAMP_SIZE}x{STAMP_SIZE} px, "
            "per-stamp min-max scaling, NaNs filled with the stamp median) and "
            f"{len(METADATA_NAMES)} metadata features ({', '.join(METADATA_NAMES)}) → AGN, SN, VS, "
            "asteroid, bogus. A CNN whose conv tower sees the four 90° rotations and averages "
            "them (exact rotation invariance), metadata joined after the convolutions; "
            "pre-trained on simulated alerts and on simulated sources injected into real ZTF "
            "cutouts, fine-tuned on the real labelled alerts, its softmax temperature fitted on "
            "real out-of-fold predictions; PyTorch-trained, run by onnxruntime."),
        data={
            "pre-training, simulated": counts(datasets["simulated"]),
            f"pre-training, injected into {n_backgrounds} real unlabelled triplets": counts(datasets["injected"]),
            "real labelled (Fink SIMBAD/TNS labels, MPC asteroids)": counts(datasets["real"]),
            "real evaluation": (f"{k}-fold cross-validation by object over all real labelled alerts: "
                                "each fold fine-tuned from the same pre-trained model without its "
                                "objects; the shipped model is fine-tuned on all of them"),
            "simulated held-out test (independent seed)": counts(datasets["simulated_test"]),
            "injected held-out test (independent seed)": counts(datasets["injected_test"]),
            "run": f"quick={quick}, seed={seed}, {seconds:.0f} s",
        },
        metrics=metrics,
        confusion_matrices=matrices,
        sections={
            "Reliability on real data": (
                f"![reliability]({RELIABILITY_PNG})\n\nTop-label reliability of the out-of-fold "
                "probabilities of every real labelled alert, before and after the temperature "
                "(one parameter, so it never changes a prediction)."),
            "What is real and what is still simulated": (
                "Real: the labelled alerts (cutouts and candidate fields, with reflections as "
                "augmentation), and in the injected set the sky, noise, PSF wings of field stars, "
                "template depth and subtraction residuals of real ZTF science, template and "
                "difference cutouts (windows 20 px off their own candidate). Simulated: every "
                "injected source (Moffat PSF at the real image's seeing and zero point), its "
                "Sérsic host, the bogus artefacts, and all metadata of simulated and injected "
                "examples. Real bogus labels do not exist in the shared data, so bogus is "
                "learned from simulated artefacts only and the real balanced accuracy averages "
                "the four classes present."),
            "Caveats": (
                "The real set is small (a handful of SN objects, about a dozen AGN and "
                "asteroids): read the bootstrap intervals, not the point figures. Most real "
                "alerts are not first alerts: their ndethist/ncovhist are those of later "
                "detections. Fine-tuning sees every real object, so the shipped model is "
                "probably a little better than its cross-validated figures."),
            "Before: stamp_classifier 1.0.0": (
                "Trained jointly on synthetic-background simulations and 70% of the real "
                "objects (one split), it scored on the same 81 real objects, most of which it "
                "had trained on (an upper bound, printed by `alerce-classifier evaluate --only "
                "stamp`): balanced accuracy by object 0.804 [0.715, 0.889], recall AGN 0.385 "
                "[0.111, 0.643] (8 of 13 AGN called VS), SN 1.000 (5 objects), VS 1.000, "
                "asteroid 0.833 [0.600, 1.000]. The figures above are out-of-fold, so honest."),
            "Comparison with ALeRCE": (
                "Carrasco-Davis et al. (2021) report 0.944 accuracy on a balanced test set of "
                "real first alerts, thousands of them; the figures above are from under a "
                "hundred real objects and are not directly comparable."),
        },
    )
