"""The replay and classify commands, and the classifier registry behind them."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from classifier_service.classifiers import registry
from classifier_service.cli import main
from tests.service.fakes import CountingClassifier

FAKES = "tests.service.fakes"


@pytest.fixture
def fake_registry(monkeypatch):
    """Register a stand-in classifier, one without its artifact and one that does not exist."""
    monkeypatch.setattr(registry, "CLASSIFIERS", [
        f"{FAKES}:CountingClassifier", f"{FAKES}:MissingArtifactClassifier", "no.such.module:Classifier"])


def test_the_registry_returns_only_classifiers_whose_artifacts_exist(fake_registry):
    loaded = registry.load_classifiers()
    assert [type(c) for c in loaded] == [CountingClassifier]


def test_the_registry_filters_by_name(fake_registry):
    assert registry.load_classifiers(["missing"]) == []
    assert [c.name for c in registry.load_classifiers(["counting"])] == ["counting"]


def test_classify_prints_one_json_line_per_alert(shared_data, fake_registry, capsys):
    folder = shared_data / "ztf_alerts/fink-client/single"
    assert main(["classify", str(folder)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 8
    assert set(lines[0]) == {"objectId", "candid", "classifications"}
    probabilities = lines[0]["classifications"]["counting"]
    assert probabilities["version"] == "0.1"
    assert sum(probabilities["probabilities"].values()) == pytest.approx(1.0)


def test_classify_reads_alerce_csv_light_curves_per_object(shared_data, fake_registry, capsys):
    base = shared_data / "lightcurves/alerce-lc_classifier"
    assert main(["classify", "--detections", str(base / "30_sne_detections_corr.csv"),
                 "--non-detections", str(base / "30_sne_non_detections.csv")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 30
    assert all(line["objectId"].startswith("ZTF") for line in lines)
    assert lines[0]["candid"] > 10**17  # 19-digit candids survive the CSV
    assert all(line["classifications"]["counting"]["probabilities"]["long"] == 0.9 for line in lines)


def test_classify_with_no_trained_model_prints_empty_classifications(shared_data, monkeypatch, capsys):
    monkeypatch.setattr(registry, "CLASSIFIERS", [])
    assert main(["classify", str(shared_data / "ztf_alerts/ztf-avro-alert")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["classifications"] for line in lines] == [{}, {}]


def test_replay_stores_and_writes_classified_alerts_to_a_file(shared_data, fake_registry, tmp_path, capsys):
    out = tmp_path / "classified.jsonl"
    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    assert main(["replay", str(shared_data / "ztf_alerts/fink-client/single"), "--db", db,
                 "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alerts processed: 8" in printed and "classifiers: counting" in printed
    assert len(out.read_text().splitlines()) == 8


def test_the_console_script_runs_replay(shared_data, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "classifier_service.cli", "--log-level", "ERROR", "replay",
         str(shared_data / "ztf_alerts/ztf-avro-alert"), "--db", f"sqlite:///{tmp_path / 's.sqlite3'}",
         "--no-classify"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alerts processed: 2" in result.stdout


def test_a_classifier_name_no_registered_classifier_has_is_an_error_naming_the_registered_ones(fake_registry):
    with pytest.raises(registry.UnknownClassifierError,
                       match="no classifier is called nope; the registered ones: counting, missing"):
        registry.load_classifiers(["nope", "counting"])
