"""How the stamp classifier is trained and scored on real data: folds by object, one vote per
object, real sources injected into real skies, a calibrated exported softmax."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from classifier_service.classifiers.stamp_classifier import CLASSES, METADATA_NAMES, STAMP_SIZE
from classifier_service.train.stamp import (
    RealBackground,
    StampDataset,
    injected_dataset,
    object_folds,
    per_object,
    real_dataset,
)


def _dataset(oids: list[str], labels: list[int]) -> StampDataset:
    n = len(oids)
    return StampDataset(np.zeros((n, 3, STAMP_SIZE, STAMP_SIZE), np.float32),
                        np.zeros((n, len(METADATA_NAMES)), np.float32), np.asarray(labels), np.asarray(oids))


def test_folds_keep_every_alert_of_an_object_together_and_spread_each_class():
    oids = [f"o{i // 2}" for i in range(40)]  # 20 objects of two alerts each
    labels = [(i // 2) % 4 for i in range(40)]  # five objects per class
    folds = object_folds(_dataset(oids, labels), k=5, seed=0)
    for oid in set(oids):
        assert len(set(folds[np.asarray(oids) == oid])) == 1
    for label in range(4):
        assert sorted(set(folds[np.asarray(labels) == label])) == [0, 1, 2, 3, 4]


def test_an_object_votes_once_with_the_mean_probability_of_its_alerts():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    oids, labels, mean = per_object(probabilities, np.array([0, 0, 1]), np.array(["a", "a", "b"]))
    assert list(oids) == ["a", "b"] and list(labels) == [0, 1]
    np.testing.assert_allclose(mean, [[0.6, 0.4], [0.2, 0.8]])


def test_injected_examples_come_in_every_class_on_the_real_backgrounds_given():
    rng = np.random.default_rng(0)
    sky = rng.normal(150.0, 10.0, size=(3, 63, 63)).astype(np.float32)
    data = injected_dataset(3, seed=1, backgrounds=[RealBackground(sky, 26.0, 2.0, 10.0)])
    assert data.class_counts() == dict.fromkeys(CLASSES, 3)
    assert data.stamps.shape == (15, 3, STAMP_SIZE, STAMP_SIZE) and np.isfinite(data.stamps).all()



def test_fink_parquet_alerts_whose_history_candids_were_rounded_to_floats_are_held_out_alerts_too(
        tmp_path: Path, shared_data: Path):
    """Parquet stores prv_candidates.candid as a double; the stamp network never reads the
    history, so such an alert is scored like any other rather than skipped."""
    name = "ztf_alerts_parquet/fink-science/superluminous_test_alerts.parquet"
    (tmp_path / name).parent.mkdir(parents=True)
    (tmp_path / name).symlink_to(shared_data / name)
    history = pq.read_table(shared_data / name, columns=["prv_candidates"]).column(0).to_pylist()
    assert any(isinstance(p["candid"], float) for rows in history for p in rows or [])
    data = real_dataset(tmp_path)
    assert len(set(data.oids)) >= 4 and data.class_counts()["SN"] >= 3
