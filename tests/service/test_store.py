"""The store, on SQLite and on PostgreSQL: batch reads and idempotent batch writes."""
from __future__ import annotations

import math

import pytest
from sqlalchemy import inspect, select

from classifier_service.store import BatchWrite, RejectedRows, Store, tables
from tests.service.conftest import table_checksums


def detection_row(candid, *, oid="ZTF1", mjd=100.0, has_stamp=False, parent_candid=None, dubious=False):
    return {
        "candid": candid, "oid": oid, "mjd": mjd, "fid": 1, "pid": 1, "diffmaglim": 20.0, "isdiffpos": 1,
        "nid": 1, "ra": 10.0, "dec": -5.0, "magpsf": 18.0, "sigmapsf": 0.1, "magap": None,
        "sigmagap": None, "distnr": 0.5, "rb": 0.9, "rbversion": "t", "drb": 0.99, "drbversion": "d",
        "magapbig": None, "sigmagapbig": None, "rfid": 7, "magpsf_corr": math.nan,
        "sigmapsf_corr": math.inf, "sigmapsf_corr_ext": None, "corrected": False, "dubious": dubious,
        "parent_candid": parent_candid, "has_stamp": has_stamp, "step_id_corr": "test",
    }


def a_batch() -> BatchWrite:
    return BatchWrite(
        objects=[{"oid": "ZTF1", "survey": "ZTF", "ndet": 2, "meanra": 10.0, "meandec": -5.0,
                  "firstmjd": 100.0, "lastmjd": 101.0}],
        detections=[detection_row(1, has_stamp=True, parent_candid=1), detection_row(2, mjd=101.0)],
        non_detections=[{"oid": "ZTF1", "fid": 1, "mjd": 99.0, "diffmaglim": 20.5}],
        magstats=[{"oid": "ZTF1", "fid": 1, "ndet": 2, "magmean": 18.0}],
        probabilities=[{"oid": "ZTF1", "classifier_name": "c", "classifier_version": "1",
                        "class_name": k, "probability": p, "ranking": r}
                       for k, p, r in (("SN", 0.7, 1), ("AGN", 0.3, 2))],
        features=[{"oid": "ZTF1", "name": "amplitude", "fid": 1, "version": "1", "value": 0.4}],
        taxonomies=[{"classifier_name": "c", "classifier_version": "1", "classes": ["SN", "AGN"]}],
        cutouts=[{"oid": "ZTF1", "candid": 1, "science": b"s", "template": b"t", "difference": b"d"}],
        dead_letters=[{"source": "f.avro#rest", "stage": "decode", "reason": "bad", "payload": b"x"}],
    )


def test_create_all_makes_alerces_tables(store: Store):
    names = set(inspect(store.engine).get_table_names())
    assert {"object", "detection", "non_detection", "forced_photometry", "magstat", "probability",
            "feature", "taxonomy", "cutout", "dead_letter"} <= names


def test_writing_the_same_batch_twice_changes_no_row(store: Store):
    store.write(a_batch())
    before = table_checksums(store)
    store.write(a_batch())
    assert table_checksums(store) == before
    assert before["probability"][0] == 2 and before["dead_letter"][0] == 1


def test_a_detection_keeps_the_stamp_of_the_alert_that_carried_it(store: Store):
    store.write(BatchWrite(detections=[detection_row(1, has_stamp=True, parent_candid=1)]))
    store.write(BatchWrite(detections=[detection_row(1, parent_candid=5, dubious=True)]))
    (row,) = store.detections_of(["ZTF1"])["ZTF1"]
    assert row["has_stamp"] and row["dubious"]
    with store.engine.connect() as conn:
        assert conn.scalar(select(tables.detection.c.parent_candid)) == 1


def test_a_history_detection_is_upgraded_when_its_own_alert_arrives(store: Store):
    store.write(BatchWrite(detections=[detection_row(1, parent_candid=5)]))
    store.write(BatchWrite(detections=[detection_row(1, has_stamp=True, parent_candid=1)]))
    with store.engine.connect() as conn:
        assert conn.execute(select(tables.detection.c.has_stamp, tables.detection.c.parent_candid)).one() == (True, 1)


def test_the_cutouts_of_the_first_alert_are_kept(store: Store):
    def cutout(candid):
        return BatchWrite(cutouts=[{"oid": "ZTF1", "candid": candid, "science": bytes([candid]),
                                    "template": b"", "difference": b""}])

    store.write(cutout(5))
    store.write(cutout(3))
    store.write(cutout(9))
    with store.engine.connect() as conn:
        assert conn.execute(select(tables.cutout.c.candid, tables.cutout.c.science)).one() == (3, b"\x03")


def test_not_finite_numbers_are_stored_as_null(store: Store):
    store.write(BatchWrite(detections=[detection_row(1)]))
    (row,) = store.detections_of(["ZTF1"])["ZTF1"]
    assert row["magpsf_corr"] is None and row["sigmapsf_corr"] is None


def test_batch_reads_group_by_object_oldest_first(store: Store):
    store.write(a_batch())
    store.write(BatchWrite(detections=[detection_row(9, oid="ZTF2", mjd=50.0)]))
    detections = store.detections_of(["ZTF1", "ZTF2", "ZTF3"])
    assert [r["candid"] for r in detections["ZTF1"]] == [1, 2]
    assert [r["candid"] for r in detections["ZTF2"]] == [9]
    assert "ZTF3" not in detections
    assert [r["mjd"] for r in store.non_detections_of(["ZTF1"])["ZTF1"]] == [99.0]
    assert store.existing_oids(["ZTF1", "ZTF2", "ZTF3"]) == {"ZTF1"}
    assert store.detections_of([]) == {}


def test_a_failed_batch_writes_nothing(store: Store):
    bad = a_batch()
    bad.magstats = [{"oid": "ZTF1", "fid": 1, "ndet": None}]  # ndet is NOT NULL
    with pytest.raises(RejectedRows, match="ndet"):
        store.write(bad)
    assert store.row_counts()["object"] == 0


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sub' / 'a.sqlite3'}")
    store.create_all()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.dispose()
