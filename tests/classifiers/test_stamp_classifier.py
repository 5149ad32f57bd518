"""The stamp classifier as the worker runs it: exported ONNX model, batches, real alerts, bad input."""
from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path

import numpy as np
import pytest

from classifier_service.alert import Cutouts
from classifier_service.classifiers.base import ClassifierInput
from classifier_service.classifiers.stamp_classifier import (
    CLASSES,
    METADATA_NAMES,
    MODELS_DIR,
    NAME,
    STAMP_SIZE,
    StampClassifier,
)
from classifier_service.lightcurve.model import LightCurve
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.train.stamp import train_stamp_classifier


@pytest.fixture(scope="module")
def quick_artifact(tmp_path_factory, shared_data) -> Path:
    return train_stamp_classifier(tmp_path_factory.mktemp("stamp"), quick=True, data_dir=shared_data)


@pytest.fixture(scope="module")
def classifier(quick_artifact) -> StampClassifier:
    return StampClassifier.from_artifacts(quick_artifact)


@pytest.fixture(scope="module")
def real_alerts(shared_data):
    paths = sorted((shared_data / "ztf_alerts").glob("*/survey_parser_ZTF_samples/*.avro"))
    paths += sorted((shared_data / "ztf_alerts" / "fink-client" / "single").glob("*.avro"))
    return [parse_record(record) for path in paths for record in iter_records(path.read_bytes())]


def _inputs(alerts, is_first_alert: bool = True) -> list[ClassifierInput]:
    empty = np.empty(0)
    return [ClassifierInput(alert, LightCurve(alert.oid, *[empty] * 10), is_first_alert) for alert in alerts]


def _random_inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stamps = rng.uniform(0, 1, (n, 3, STAMP_SIZE, STAMP_SIZE)).astype(np.float32)
    return stamps, rng.normal(size=(n, len(METADATA_NAMES))).astype(np.float32)


def test_quick_training_writes_a_loadable_versioned_artifact_with_its_model_card(quick_artifact):
    files = {p.name for p in quick_artifact.iterdir()}
    assert {"model.onnx", "normalization.json", "MODEL_CARD.md"} <= files
    assert any(name.startswith("confusion_") and name.endswith(".png") for name in files)
    card = (quick_artifact / "MODEL_CARD.md").read_text()
    assert "real held-out objects: balanced accuracy" in card
    loaded = StampClassifier.from_artifacts(quick_artifact.parent)  # newest version under the root
    assert loaded.version == quick_artifact.name
    assert loaded.taxonomy() == {NAME: list(CLASSES)}


def test_the_exported_temperature_is_fitted_on_the_real_alerts_the_network_never_trained_on(
        quick_artifact):
    stats = json.loads((quick_artifact / "normalization.json").read_text())
    card = (quick_artifact / "MODEL_CARD.md").read_text()
    assert stats["temperature"] > 0
    assert (f"temperature (fitted on all real alerts if the cross-fitted one lowered the log loss, else 1) | "
            f"{stats['temperature']:.3f}") in card
    assert (quick_artifact / "reliability_real.png").is_file()
    assert "real held-out objects: recall SN" in card and "What is real and what is still simulated" in card


def test_the_card_scores_the_fine_tuning_alternative_on_the_same_objects_and_the_paired_difference(
        quick_artifact):
    card = (quick_artifact / "MODEL_CARD.md").read_text()
    assert "fine-tuned on real instead (2-fold CV by object, mean of 1 fold seeds): balanced accuracy |" in card
    assert "balanced accuracy minus the shipped model's (same objects) |" in card


def test_missing_artifact_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        StampClassifier.from_artifacts(tmp_path)


def test_exported_model_is_invariant_to_90_degree_rotations(classifier):
    stamps, metadata = _random_inputs(8)
    reference = classifier.predict(stamps, metadata)
    for k in (1, 2, 3):
        rotated = np.ascontiguousarray(np.rot90(stamps, k, axes=(2, 3)))
        assert np.allclose(classifier.predict(rotated, metadata), reference, atol=1e-5)


def test_batched_inference_equals_one_alert_at_a_time(classifier):
    stamps, metadata = _random_inputs(16, seed=3)
    batched = classifier.predict(stamps, metadata)
    single = np.concatenate([classifier.predict(stamps[i:i + 1], metadata[i:i + 1]) for i in range(16)])
    assert np.allclose(batched, single, atol=1e-5)


def test_empty_batch_gives_no_probabilities(classifier):
    assert classifier.predict(*_random_inputs(0)).shape == (0, len(CLASSES))
    assert classifier.classify([]) == []


def test_real_first_alerts_get_five_probabilities_summing_to_one(real_alerts):
    shipped = StampClassifier.from_artifacts(MODELS_DIR)
    results = shipped.classify(_inputs(real_alerts))
    assert len(results) == len(real_alerts) > 50
    for result in results:
        (output,) = result.outputs
        assert output.classifier_name == NAME and output.classifier_version == shipped.version
        assert list(output.probabilities) == list(CLASSES)
        assert sum(output.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_only_first_alerts_are_classified(classifier, real_alerts):
    results = classifier.classify(_inputs(real_alerts[:3], is_first_alert=False))
    assert [r.outputs for r in results] == [[], [], []]


def test_bad_or_missing_cutouts_yield_no_output_without_failing_the_batch(classifier, real_alerts):
    good, corrupt, missing = deepcopy(real_alerts[:3])  # the fixture is shared: mutate copies
    corrupt.cutouts = Cutouts(b"\x1f\x8bnot gzip", corrupt.cutouts.template, corrupt.cutouts.difference)
    missing.cutouts = Cutouts(missing.cutouts.science, None, missing.cutouts.difference)
    results = classifier.classify(_inputs([good, corrupt, missing]))
    assert [len(r.outputs) for r in results] == [1, 0, 0]

