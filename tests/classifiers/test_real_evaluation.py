"""Honest evaluation on real data: object-bootstrap intervals, training membership of the
shipped models, and the adversary that tells simulated alerts from real ones."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier_service.simulate import simulate_alert_packets
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.train.adversarial import (
    FEATURES,
    STAMP_FEATURES,
    AlertTable,
    adversarial_report,
    adversarial_table,
    alert_features,
    run_adversary,
    single_feature_auc,
)
from classifier_service.train.bootstrap import balanced_accuracy, group_indices, grouped_bootstrap, recall
from classifier_service.train.evaluate_real import Predictions, class_report, lc_report, stamp_report


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


@pytest.fixture
def tiny_data(tmp_path, shared_data) -> Path:
    """A few real files of shared/data, linked (never copied) into a throw-away data dir."""
    _link(shared_data / "ztf_alerts_parquet" / "fink-utils" / "alert_samples.parquet",
          tmp_path / "ztf_alerts_parquet" / "fink-utils" / "alert_samples.parquet")
    _link(shared_data / "ztf_alerts" / "fink-client" / "multi", tmp_path / "ztf_alerts" / "fink-client" / "multi")
    _link(shared_data / "lightcurves" / "alerce-lc_classifier", tmp_path / "lightcurves" / "alerce-lc_classifier")
    bts = sorted((shared_data / "lightcurves" / "light-curve-test-data_bts_snia" / "light-curves").glob("ZTF*.csv"))
    for path in bts[:4]:
        _link(path, tmp_path / "lightcurves" / "light-curve-test-data_bts_snia" / "light-curves" / path.name)
    return tmp_path


# --- bootstrap by object ----------------------------------------------------------------

def test_rows_of_one_object_are_resampled_together():
    groups = ["a", "b", "a", "c", "b"]
    assert sorted(map(list, group_indices(groups))) == [[0, 2], [1, 4], [3]]
    # Object "a" has two rows that always agree: a resample never splits them.
    values = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    estimate = grouped_bootstrap(lambda rows: values[rows].mean(), groups, n_resamples=300)
    assert estimate.value == pytest.approx(0.4)
    assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0


def test_a_class_missing_from_a_resample_does_not_count_as_zero_recall():
    y_true = np.array(["SN", "VS", "VS", "VS"])
    y_pred = np.array(["SN", "VS", "VS", "SN"])
    assert recall(y_true, y_pred, "AGN") != recall(y_true, y_pred, "AGN")  # NaN: no true AGN
    assert balanced_accuracy(y_true, y_pred) == pytest.approx((1 + 2 / 3) / 2)
    estimate = grouped_bootstrap(lambda rows: recall(y_true[rows], y_pred[rows], "SN"), list("abcd"))
    assert estimate.value == 1.0 and estimate.low == 1.0 and estimate.high == 1.0


def test_class_report_gives_intervals_and_the_confusion():
    pred = Predictions("toy", np.array(["SN", "SN", "VS", "AGN"]), np.array(["SN", "VS", "VS", "VS"]),
                       np.array(["o1", "o2", "o3", "o4"]))
    report = class_report(pred, ["AGN", "SN", "VS", "asteroid"], n_resamples=100)
    assert "toy: 4 rows, 4 objects" in report
    assert "balanced accuracy (mean recall over 3 classes present): 0.500 [" in report
    assert "recall SN               0.500 [" in report
    assert "asteroid" not in report.split("confusion")[1]  # never true, never predicted


# --- the adversary ----------------------------------------------------------------------

def _toy_table(shift: float, n: int = 120, seed: int = 0) -> AlertTable:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2 * n, len(FEATURES)))
    is_real = np.repeat([1, 0], n)
    features[is_real == 1, FEATURES.index("fwhm")] += shift
    oids = np.array([f"o{i // 2}" for i in range(2 * n)])  # two alerts per object
    return AlertTable(features, oids, is_real)


def test_the_adversary_names_the_feature_that_gives_the_simulation_away():
    result = run_adversary(_toy_table(shift=4.0), n_repeats=1, n_resamples=100)
    assert result.auc.low > 0.95
    assert result.importances[0][0] == "fwhm"
    assert single_feature_auc(_toy_table(shift=4.0))[0][0] == "fwhm"


def test_identical_distributions_give_an_auc_near_one_half():
    # Out-of-fold AUC of an over-fitting model on pure noise scatters by ~0.1 around 0.5.
    result = run_adversary(_toy_table(shift=0.0), n_repeats=1, n_resamples=100)
    assert 0.3 < result.auc.value < 0.7


def test_the_report_ranks_giveaways_and_families():
    report = adversarial_report(_toy_table(shift=4.0, n=60), steps=1, n_resamples=50)
    assert "  1. without fwhm" in report
    families = {line.split(" AUC ")[0].strip(): float(line.split(" AUC ")[1].split()[0])
                for line in report.splitlines() if line.startswith("  ") and " AUC " in line and "without" not in line}
    assert families["candidate fields"] > 0.9  # fwhm is a candidate field
    assert families["stamp statistics"] < 0.8 and families["history and cadence"] < 0.8


def test_real_and_simulated_alerts_give_the_same_features(shared_data):
    real = parse_record(next(iter_records(
        (shared_data / "ztf_alerts" / "ztf-avro-alert" / sorted(
            p.name for p in (shared_data / "ztf_alerts" / "ztf-avro-alert").glob("*.avro"))[0]).read_bytes())))
    simulated = parse_record(next(iter_records(next(iter(simulate_alert_packets(1, seed=3))))))
    for alert in (real, simulated):
        features = alert_features(alert)
        assert set(features) == set(FEATURES)
        assert all(np.isfinite(features[name]) for name in STAMP_FEATURES if name != "difference_peak_snr")


def test_adversarial_table_reads_real_alerts_in_place_and_matches_their_count(tiny_data):
    table = adversarial_table(tiny_data, seed=1)
    assert table.is_real.sum() == (1 - table.is_real).sum() > 10
    assert all(oid.startswith("real:") for oid in table.oids[table.is_real == 1])


# --- the shipped models on real data ----------------------------------------------------

def test_the_stamp_report_calls_its_figures_held_out_and_quotes_the_cards(tiny_data):
    report = stamp_report(tiny_data, n_resamples=50)
    assert "never trained on a real label" in report and "so these figures are held out" in report
    assert "| real held-out objects: balanced accuracy |" in report  # from the shipped card
    assert "stamp classifier, real labelled objects" in report and "recall VS" in report


def test_the_light_curve_report_calls_its_figures_memory_and_quotes_the_out_of_fold_ones(tiny_data):
    report = lc_report(tiny_data, n_resamples=20)
    assert "SEEN IN TRAINING, without BTS (memory) — top level" in report
    assert "SEEN IN TRAINING, BTS SN Ia — bottom level" in report
    assert "| real out-of-fold, without BTS: top macro recall |" in report  # from the shipped card


def test_evaluate_command_prints_the_figures(tiny_data, capsys):
    from classifier_service.cli import main

    assert main(["--log-level", "WARNING", "evaluate", "--only", "stamp", "--data-dir", str(tiny_data),
                 "--resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Intervals: 95% bootstrap, objects resampled with replacement.")
    assert "balanced accuracy (mean recall over" in out
