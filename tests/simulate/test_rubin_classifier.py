"""Issue 13: Rubin's light-curve and early (stamp) classifiers, trained by ``alerce-classifier
train`` on simulated Rubin alerts, versioned with their own model cards, answering for Rubin
alerts only."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from alerce_contract.taxonomy import LC_CLASSES
from classifier_service.classifiers.base import ClassifierInput
from classifier_service.classifiers.registry import load_classifiers
from classifier_service.classifiers.rubin_lc_classifier import NAME, TOP_NAME, RubinLightCurveClassifier
from classifier_service.classifiers.rubin_stamp_classifier import NAME as STAMP_NAME
from classifier_service.classifiers.rubin_stamp_classifier import RubinStampClassifier
from classifier_service.commands import train
from classifier_service.commands.classify import classify_archives
from classifier_service.lightcurve import build_lightcurve
from classifier_service.simulate.rubin import simulate_rubin_alerts
from classifier_service.train.rubin_lightcurve import VERSION as LC_VERSION
from classifier_service.train.rubin_stamp import VERSION as STAMP_VERSION
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    assert train.run(parser.parse_args(["--only", "lsst-lc", "--quick", "--out", str(out), "--seed", "1"])) == 0
    return out / NAME / LC_VERSION


@pytest.fixture(scope="module")
def night_inputs():
    alerts = [parse_record(r) for p in simulate_rubin_alerts(60, seed=2) for r in iter_records(p)]
    return [ClassifierInput(a, build_lightcurve(a.oid, a.detections, (), a.metadata), False) for a in alerts]


def test_train_writes_a_versioned_model_with_a_card_of_simulated_metrics(quick_model):
    card = (quick_model / "MODEL_CARD.md").read_text()
    assert "simulated" in card.lower()
    assert all(f"recall {c} " in card for c in LC_CLASSES)
    assert "rows true, columns predicted" in card
    assert (quick_model / "confusion_simulated_held_out_bottom_level.png").is_file()


def test_it_classifies_rubin_light_curves_of_six_detections_and_more(quick_model, night_inputs):
    classifier = RubinLightCurveClassifier.from_artifacts(quick_model)
    assert classifier.surveys == frozenset({"LSST"})
    results = classifier.classify(night_inputs)
    for item, result in zip(night_inputs, results):
        if len(item.lightcurve) < 6:
            assert result.outputs == []
            continue
        full, top = result.outputs
        assert (full.classifier_name, top.classifier_name) == (NAME, TOP_NAME)
        assert set(full.probabilities) == set(LC_CLASSES)
        assert sum(full.probabilities.values()) == pytest.approx(1.0)
    assert any(r.outputs for r in results)


def test_training_is_deterministic(quick_model, night_inputs, tmp_path):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    train.run(parser.parse_args(["--only", "lsst-lc", "--quick", "--out", str(tmp_path), "--seed", "1"]))
    again = RubinLightCurveClassifier.from_artifacts(tmp_path / NAME)
    first = RubinLightCurveClassifier.from_artifacts(quick_model)

    def probabilities(classifier):
        return [[o.probabilities for o in r.outputs] for r in classifier.classify(night_inputs)]

    assert probabilities(again) == probabilities(first)


def test_the_shipped_model_answers_for_rubin_and_not_ztf(shared_data):
    loaded = {c.name: c for c in load_classifiers()}
    assert NAME in loaded
    rubin_lines = list(classify_archives(sorted((shared_data / "lsst_alerts").rglob("*.avro")), list(loaded.values())))
    names = {name for line in rubin_lines for name in line["classifications"]}
    assert names == {NAME, TOP_NAME, STAMP_NAME}
    ztf = sorted((shared_data / "ztf_alerts").rglob("*.avro"))[:3]
    rubin_only = [loaded[NAME], loaded[STAMP_NAME]]
    ztf_names = {name for line in classify_archives(ztf, rubin_only) for name in line["classifications"]}
    assert ztf_names == set()
    assert np.isfinite([p for line in rubin_lines for c in line["classifications"].values()
                        for p in c["probabilities"].values()]).all()


def test_the_early_classifier_answers_on_first_alerts_with_cutouts(tmp_path, night_inputs):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    assert train.run(parser.parse_args(["--only", "lsst-stamp", "--quick", "--out", str(tmp_path)])) == 0
    card = (tmp_path / STAMP_NAME / STAMP_VERSION / "MODEL_CARD.md").read_text()
    assert "simulated" in card and "recall asteroid" in card
    classifier = RubinStampClassifier.from_artifacts(tmp_path / STAMP_NAME)
    assert classifier.surveys == frozenset({"LSST"})
    first = [ClassifierInput(item.alert, item.lightcurve, is_first_alert=True) for item in night_inputs]
    answered = classifier.classify(first)
    assert all(len(r.outputs) == 1 and sum(r.outputs[0].probabilities.values()) == pytest.approx(1.0)
               for r in answered)
    assert all(r.outputs == [] for r in classifier.classify(night_inputs))  # not a first alert: no answer
