"""The store, on SQLite and on PostgreSQL: batch reads and idempotent batch writes."""
from __future__ import annotations

import hashlib
import math
import threading
import time

import numpy as np
import pytest
from sqlalchemy import insert, inspect, select

from classifier_service.store import BatchWrite, CandidCollision, RejectedRows, Store, rows, tables
from classifier_service.store.staging import CSV_FROM_ROWS
from classifier_service.stream.base import DeadLetter
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


# Rows of other objects added to a table's write, to take either PostgreSQL path: none (a
# multi-row INSERT, or the staged COPY for stamps) or enough for a COPY (into a staging table,
# or straight into the table for rows not stored yet).
BOTH_PATHS = pytest.mark.parametrize("fillers", [0, CSV_FROM_ROWS], ids=["insert", "copy"])


def fillers_of(n: int) -> BatchWrite:
    return BatchWrite(
        features=[{"oid": "ZTF9", "name": f"f{i}", "fid": 1, "version": "1", "value": 1.0} for i in range(n)],
        detections=[detection_row(10_000 + i, oid="ZTF9") for i in range(n)],
        forced_photometry=[{"oid": "ZTF9", "pid": i, "mjd": 1.0, "fid": 1} for i in range(n)],
        cutouts=[{"oid": f"ZTF9{i}", "candid": i, "science": b"s", "template": b"t", "difference": b"d"}
                 for i in range(n)])


def with_fillers(batch: BatchWrite, n: int) -> BatchWrite:
    return BatchWrite.combine([batch, fillers_of(n)])


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


def test_every_store_lists_its_indexes_in_name_order(tmp_path):
    """SQLite breaks ties between indexes it rates alike by the order its schema lists them: in
    one order on every store, a query is planned alike on every store."""
    store = Store(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    store.create_all()
    with store.engine.connect() as conn:
        listed = conn.exec_driver_sql(  # sqlite_schema's rows in the order they were created
            "SELECT tbl_name, name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
            "ORDER BY rowid").all()
    store.dispose()
    for table in tables.metadata.sorted_tables:
        names = [name for tbl_name, name in listed if tbl_name == table.name]
        assert names == sorted(ix.name for ix in table.indexes), table.name


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


@BOTH_PATHS
def test_stamps_come_back_byte_for_byte(store: Store, fillers: int):
    """PostgreSQL takes stamps in COPY's binary format: every byte value, an empty stamp, a missing one."""
    stamps = {"science": bytes(range(256)) * 40, "template": b"", "difference": None}
    store.write(with_fillers(BatchWrite(cutouts=[{"oid": "ZTF1", "candid": 2**62 + 1, **stamps}]), fillers))
    with store.engine.connect() as conn:
        stored = conn.execute(select(tables.cutout).where(tables.cutout.c.oid == "ZTF1")).mappings().one()
    assert stored == {"oid": "ZTF1", "candid": 2**62 + 1, **stamps}


def test_postgresql_stores_stamps_uncompressed_also_in_a_store_made_before(store: Store):
    """gzipped stamps gain nothing from pglz, which cost a third of their write."""
    if store.dialect != "postgresql":
        pytest.skip("column storage is PostgreSQL's")

    def storage() -> set[str]:
        with store.engine.connect() as conn:
            return set(conn.exec_driver_sql(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'cutout'::regclass "
                "AND attname IN ('science', 'template', 'difference')").scalars())

    assert storage() == {"e"}
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE cutout ALTER COLUMN science SET STORAGE EXTENDED")
    store.create_all()
    assert storage() == {"e"}


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


def test_a_batch_after_a_refused_one_is_written_whole(store: Store):
    bad = a_batch()
    bad.magstats = [{"oid": "ZTF1", "fid": 1, "ndet": None}]
    with pytest.raises(RejectedRows):
        store.write(bad)
    store.write(a_batch())
    counts = store.row_counts()
    assert counts.pop("forced_photometry") == 0 and set(counts.values()) == {1, 2}


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sub' / 'a.sqlite3'}")
    store.create_all()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.dispose()


def test_a_candid_stored_for_one_object_is_refused_to_another_and_nothing_changes(store):
    store.write(a_batch())
    before = table_checksums(store)
    intruder = BatchWrite(objects=[{"oid": "ZTF2", "survey": "ZTF", "ndet": 1, "meanra": 1.0, "meandec": 1.0,
                                    "firstmjd": 100.0, "lastmjd": 100.0}],
                          detections=[detection_row(3, oid="ZTF2"), detection_row(1, oid="ZTF2")])
    with pytest.raises(CandidCollision, match="candid 1 belongs to ZTF1, not to ZTF2"):
        store.write(intruder)
    twins = BatchWrite(detections=[detection_row(7, oid="ZTF3"), detection_row(7, oid="ZTF4")])
    with pytest.raises(CandidCollision, match="candid 7 is claimed by both ZTF3 and ZTF4"):
        store.write(twins)
    assert table_checksums(store) == before
    assert store.owners_of([1, 2, 3, 7]) == {1: "ZTF1", 2: "ZTF1"}


@pytest.mark.parametrize("damage", [
    lambda row: row.update(candid=2**64),  # sqlite3: OverflowError; PostgreSQL: out of range
    lambda row: row.update(rbversion="x" * 17, oid="ZTF\x00"),  # PostgreSQL: truncation; NUL
    lambda row: row.update(magpsf=None),  # NOT NULL
])
def test_every_data_error_is_rejected_rows_and_nothing_is_written(store, damage):
    batch = a_batch()
    damage(batch.detections[1])
    if store.dialect == "sqlite" and batch.detections[1]["oid"] == "ZTF\x00":
        pytest.skip("SQLite takes any text: the survey adapters refuse it before")
    with pytest.raises(RejectedRows):
        store.write(batch)
    assert all(count == 0 for count, _ in table_checksums(store).values())


def test_a_dead_letter_of_any_text_and_size_can_be_written(store):
    payload = b"p" * (3 << 20)
    letter = DeadLetter(source="topic/0/1\x00", stage="parse", reason="bad\x00\r\n" * 10**6, payload=payload,
                        oid="ZTF\x00" + "a" * 10**6, candid=2**70)
    store.write(BatchWrite(dead_letters=[rows.dead_letter_row(letter)]))
    with store.engine.connect() as conn:
        row = conn.execute(select(tables.dead_letter)).mappings().one()
    assert row["source"] == "topic/0/1\\x00" and row["oid"].startswith("ZTF\\x00aaa") and len(row["oid"]) == 32
    assert row["reason"].startswith("bad\\x00\\r\\nbad") and len(row["reason"]) == 2000
    assert row["candid"] is None
    assert row["payload"] == payload[:rows.DEAD_LETTER_PAYLOAD_BYTES]
    assert (row["payload_size"], row["payload_sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())


@BOTH_PATHS
def test_numbers_text_and_json_come_back_exactly_as_written(store: Store, fillers: int):
    """The PostgreSQL bulk path goes through CSV text: every float to its last bit, text with
    the characters CSV and COPY treat specially, an empty string (not NULL) and JSON."""
    values = [0.1 + 0.2, 5e-324, 1e-310, 1.7976931348623157e308, 2.0 ** 60 + 0.5, -123.456e-7]
    names = ['quote"comma,', "tab\tnewline\nreturn\r", "back\\slash \\N", "", "ünïcødé ✓", "NULL"]
    store.write(with_fillers(BatchWrite(
        features=[{"oid": "ZTF1", "name": name, "fid": i, "version": "1", "value": value}
                  for i, (name, value) in enumerate(zip(names + ["n"], values))],
        detections=[detection_row(2**62 + 1) | {"rbversion": "", "drbversion": None, "step_id_corr": 'a"b'}],
        forced_photometry=[{"oid": "ZTF1", "pid": 2**53 + 1, "mjd": 1.0, "fid": 1,
                            "extra": {"s": 'q"\\\n\t,', "n": None, "x": [1.5, {"k": "ü"}]}}],
    ), fillers))
    with store.engine.connect() as conn:
        def of_ztf1(table):
            return select(table).where(table.c.oid == "ZTF1")

        stored = {row["name"]: row["value"] for row in conn.execute(of_ztf1(tables.feature)).mappings()}
        detection = conn.execute(of_ztf1(tables.detection)).mappings().one()
        forced = conn.execute(of_ztf1(tables.forced_photometry)).mappings().one()
    assert stored == dict(zip(names + ["n"], values))
    assert (detection["candid"], detection["rbversion"], detection["drbversion"], detection["step_id_corr"]) == (
        2**62 + 1, "", None, 'a"b')
    assert (forced["pid"], forced["extra"]) == (2**53 + 1, {"s": 'q"\\\n\t,', "n": None, "x": [1.5, {"k": "ü"}]})


@BOTH_PATHS
def test_a_json_columns_nan_is_stored_as_null_and_its_bytes_are_left_out(store: Store, fillers: int):
    """PostgreSQL refuses NaN in JSON and SQLite would keep text no JSON reader takes; numpy
    scalars are stored as the numbers they hold."""
    extra = {"nan": math.nan, "inf": -math.inf, "raw": b"\x00", "count": np.int64(3), "flag": np.bool_(True),
             "seeing": np.float64(1.25), "text": "x"}
    store.write(with_fillers(BatchWrite(forced_photometry=[
        {"oid": "ZTF1", "pid": 1, "mjd": 1.0, "fid": 1, "extra": extra}]), fillers))
    with store.engine.connect() as conn:
        stored = conn.execute(select(tables.forced_photometry.c.extra).where(
            tables.forced_photometry.c.oid == "ZTF1")).scalar_one()
    assert stored == {"nan": None, "inf": None, "count": 3, "flag": True, "seeing": 1.25, "text": "x"}


def test_of_rows_with_one_key_in_a_batch_the_last_is_stored(store: Store):
    store.write(BatchWrite(features=[{"oid": "ZTF1", "name": "a", "fid": 1, "version": "1", "value": v}
                                     for v in (1.0, 2.0, 3.0)]))
    with store.engine.connect() as conn:
        assert conn.execute(select(tables.feature.c.value)).scalars().all() == [3.0]


@BOTH_PATHS
def test_a_value_of_another_type_is_sent_as_it_is_and_stored_as_before(store: Store, fillers: int):
    """A float in an integer column, an integer in a float one: not converted on the way."""
    feature = tables.feature
    store.write(with_fillers(BatchWrite(features=[{"oid": "ZTF1", "name": "a", "fid": 2.0, "version": "1", "value": 3}]),
                             fillers))
    with store.engine.connect() as conn:
        assert conn.execute(select(feature.c.fid, feature.c.value).where(feature.c.oid == "ZTF1")).one() == (2, 3.0)


def test_a_replayed_batch_rewrites_no_postgresql_row(store: Store):
    """Unchanged rows are left alone (their row version stays) instead of rewritten."""
    if store.dialect != "postgresql":
        pytest.skip("row versions are PostgreSQL's")
    names = [t.name for t in tables.metadata.sorted_tables if t.name != "dead_letter"]

    def versions():
        with store.engine.connect() as conn:
            return {name: conn.exec_driver_sql(f'SELECT xmin::text FROM "{name}" ORDER BY 1').scalars().all()
                    for name in names}

    store.write(a_batch())
    before = versions()
    store.write(a_batch())
    assert versions() == before and before["magstat"] and before["detection"]
    changed = a_batch()
    changed.features[0]["value"] = 0.5
    store.write(changed)
    after = versions()
    assert after["feature"] != before["feature"] and after["probability"] == before["probability"]


@pytest.mark.parametrize("name, held, column, written", [
    ("feature", {"oid": "ZTF9", "name": "f0", "fid": 1, "version": "1", "value": 0.5}, "value", 1.0),
    ("detection", detection_row(10_000, oid="ZTF9") | {"magpsf": 20.0}, "magpsf", 18.0),
    ("forced_photometry", {"oid": "ZTF9", "pid": 0, "mjd": 2.0, "fid": 1}, "mjd", 1.0),
], ids=["feature", "detection", "forced_photometry"])
def test_a_key_another_writer_stores_meanwhile_is_upserted_not_refused(store: Store, name, held, column, written):
    """PostgreSQL COPYs the rows of objects it does not hold straight into their tables; when
    another writer stores one of those rows in between, the batch goes again as upserts."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    table = tables.metadata.tables[name]
    other = store.engine.connect()
    other.begin()
    other.execute(insert(table).values(**held))
    failures: list[BaseException] = []

    def write() -> None:
        try:
            store.write(fillers_of(CSV_FROM_ROWS))
        except BaseException as exc:  # noqa: BLE001 (asserted below)
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        deadline = time.monotonic() + 30
        while watcher.exec_driver_sql(waiting).scalar() == 0 and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    other.commit()
    other.close()
    writer.join(30)
    assert not failures
    with store.engine.connect() as conn:
        values = conn.execute(select(table.c[column]).where(table.c.oid == "ZTF9")).scalars().all()
    assert values == [written] * CSV_FROM_ROWS


@BOTH_PATHS
def test_a_row_without_some_of_the_first_rows_columns_stores_null_there(store: Store, fillers: int):
    detection = tables.detection
    store.write(with_fillers(BatchWrite(detections=[
        detection_row(1), {k: v for k, v in detection_row(2).items() if k != "rb"}]), fillers))
    with store.engine.connect() as conn:
        assert conn.execute(select(detection.c.rb).where(detection.c.oid == "ZTF1").order_by(
            detection.c.candid)).scalars().all() == [0.9, None]
