"""The worker: stages in order, bad alerts routed aside, commits only after store and sinks."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from alerce_contract.classified import decode_classified, encode_classified
from classifier_service.store import Store, tables
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import RawMessage
from classifier_service.stream.classified import classified_record
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.worker import Worker
from tests.service.fakes import CountingClassifier, RecordingSink

STAGES = ["decode", "parse", "lightcurve", "cutout", "classify", "store", "publish"]


@pytest.fixture
def sqlite_store(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    store.create_all()
    yield store
    store.dispose()


def messages(path: Path) -> list[RawMessage]:
    return list(ArchiveSource([path]).messages())


class ListSource:
    """Batches given up front; records commits in the shared call log."""

    def __init__(self, batches, calls=None):
        self._batches = batches
        self.committed = []
        self.calls = calls if calls is not None else []

    def batches(self):
        yield from self._batches

    def commit(self, batch):
        self.committed.append(batch)
        self.calls.append("commit")

    def close(self):
        pass


def test_a_batch_goes_through_every_stage_and_reaches_store_and_sinks(shared_data, sqlite_store):
    batch = messages(shared_data / "ztf_alerts/fink-client/single")
    sink = RecordingSink()
    report = Worker(ListSource([]), sqlite_store, [CountingClassifier()], [sink]).process(batch)
    assert report.n_alerts == len(batch) == 8 and report.n_dead_letters == 0
    assert list(report.stage_seconds) == STAGES
    assert len(sink.alerts) == 8
    assert {out.classifier_name for a in sink.alerts for out in a.classifications} == {"counting"}
    counts = sqlite_store.row_counts()
    assert counts["object"] == 8 and counts["cutout"] == 8 and counts["taxonomy"] == 1
    assert counts["probability"] == 16
    with sqlite_store.engine.connect() as conn:
        versions = conn.execute(select(tables.feature.c.version)).scalars().all()
    assert versions.count("f1") == 8 and set(versions) == {"f1", "ps1_ztf"}


def test_probabilities_are_ranked_best_first(shared_data, sqlite_store):
    Worker(ListSource([]), sqlite_store, [CountingClassifier()]).process(
        messages(shared_data / "ztf_alerts/ampel-ztf/single/ZTF20abyfpze.avro"))
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(select(tables.probability.c.class_name, tables.probability.c.ranking)
                            .order_by(tables.probability.c.ranking)).all()
    assert rows == [("long", 1), ("short", 2)]


def test_undecodable_and_unparsable_messages_become_dead_letters_and_the_rest_goes_on(shared_data, sqlite_store):
    good = messages(shared_data / "ztf_alerts/fink-client/single")
    bad = [RawMessage(b"garbage", source="topic/0/1"), RawMessage(b"", source="topic/0/2")]
    sink = RecordingSink()
    report = Worker(ListSource([]), sqlite_store, sinks=[sink]).process(bad + good)
    assert report.n_alerts == 8 and report.n_dead_letters == 2
    assert {(d.source, d.stage) for d in sink.dead_letters} == {("topic/0/1", "decode"), ("topic/0/2", "decode")}
    with sqlite_store.engine.connect() as conn:
        stored = conn.execute(select(tables.dead_letter.c.source, tables.dead_letter.c.payload)).all()
    assert sorted(stored) == [("topic/0/1", b"garbage"), ("topic/0/2", b"")]


def test_an_alert_that_breaks_a_classifier_is_a_dead_letter_the_others_are_classified(shared_data, sqlite_store):
    batch = messages(shared_data / "ztf_alerts/fink-client/single")
    victim = parse_record(next(iter_records(batch[0].payload))).oid
    report = Worker(ListSource([]), sqlite_store, [CountingClassifier(fail_on_oid=victim)]).process(batch)
    assert report.n_alerts == 7
    assert [(d.stage, d.oid) for d in report.dead_letters] == [("classify", victim)]
    assert "cannot classify" in report.dead_letters[0].reason


def test_the_first_alert_of_an_object_is_marked_and_later_ones_are_not(shared_data, sqlite_store):
    folder = shared_data / "ztf_alerts/ampel-ztf/ZTF18abxhyqv_nocutouts"
    classifier = CountingClassifier()
    worker = Worker(ListSource([]), sqlite_store, [classifier])
    for message in messages(folder):  # one alert per batch, as a stream would bring them
        worker.process([message])
    firsts = [item.is_first_alert for item in classifier.seen]
    assert len(firsts) == 4 and firsts.count(True) == 1


def test_light_curves_grow_across_batches_as_in_one_batch(shared_data, tmp_path):
    folder = shared_data / "ztf_alerts/ampel-ztf/ZTF18abxhyqv_nocutouts"
    one_by_one, all_at_once = Store("sqlite://"), Store("sqlite://")
    for store in (one_by_one, all_at_once):
        store.create_all()
    worker = Worker(ListSource([]), one_by_one)
    for message in messages(folder):
        worker.process([message])
    Worker(ListSource([]), all_at_once).process(messages(folder))

    def object_row(store):
        with store.engine.connect() as conn:
            return conn.execute(select(tables.object_table)).one()

    assert object_row(one_by_one) == object_row(all_at_once)
    assert object_row(one_by_one).ndet > 4


def test_run_flushes_every_sink_before_committing_each_batch(shared_data, sqlite_store):
    batch = messages(shared_data / "ztf_alerts/fink-client/single")
    calls: list[str] = []
    source = ListSource([batch[:4], [], batch[4:]], calls)
    report = Worker(source, sqlite_store, sinks=[RecordingSink(calls)]).run()
    assert calls == ["publish", "flush", "commit"] * 2
    assert report.n_batches == 2 and report.n_alerts == 8 and report.alerts_per_s > 0
    assert [len(b) for b in source.committed] == [4, 4]


def test_run_stops_after_max_batches(shared_data, sqlite_store):
    batch = messages(shared_data / "ztf_alerts/fink-client/single")
    source = ListSource([batch[:2], batch[2:4], batch[4:]])
    assert Worker(source, sqlite_store).run(max_batches=2).n_batches == 2
    assert len(source.committed) == 2


def test_a_packet_that_is_no_alert_is_a_parse_dead_letter(sqlite_store):
    import io

    import fastavro

    out = io.BytesIO()
    fastavro.writer(out, {"type": "record", "name": "r", "fields": [{"name": "x", "type": "long"}]}, [{"x": 1}])
    report = Worker(ListSource([]), sqlite_store).process([RawMessage(out.getvalue(), source="t/0/9")])
    assert report.n_alerts == 0
    assert [(d.stage, d.source) for d in report.dead_letters] == [("parse", "t/0/9")]
    assert "neither a ZTF nor a Rubin alert" in report.dead_letters[0].reason


def test_an_alert_of_an_unknown_schema_version_is_a_parse_dead_letter_with_its_bytes(shared_data, sqlite_store):
    import io

    import fastavro

    path = shared_data / "ztf_alerts/alerce-pipeline/lc_classifier_example/2454460970015010006.avro"
    with path.open("rb") as f:
        reader = fastavro.reader(f)
        schema, record = reader.writer_schema, next(reader)
    record["schemavsn"] = "9.0"  # a future major version whose layout nobody has seen yet
    out = io.BytesIO()
    fastavro.writer(out, schema, [record])
    report = Worker(ListSource([]), sqlite_store).process([RawMessage(out.getvalue(), source="ztf/0/42")])
    (dead,) = report.dead_letters
    assert (report.n_alerts, dead.stage, dead.source) == (0, "parse", "ztf/0/42")
    assert "unsupported ZTF schema version '9.0'" in dead.reason
    assert dead.payload == out.getvalue()


def test_the_first_alerts_ps1_host_hints_are_stored_as_features_without_missing_values(shared_data, sqlite_store):
    path = shared_data / "ztf_alerts/alerce-pipeline/lc_classifier_example/2454460970015010006.avro"
    (message,) = messages(path)
    alert = parse_record(next(iter_records(message.payload)))
    Worker(ListSource([]), sqlite_store).process([message])
    with sqlite_store.engine.connect() as conn:
        stored = dict(conn.execute(select(tables.feature.c.name, tables.feature.c.value)
                                   .where(tables.feature.c.version == "ps1_ztf")).all())
    expected = {k: v for k, v in alert.metadata.items()
                if k.startswith(("sgscore", "distpsnr", "sgmag1", "srmag1", "simag1", "szmag1")) and v > -999}
    assert stored == pytest.approx(expected) and "sgscore1" in stored


def test_features_are_stored_with_their_version(shared_data, sqlite_store):
    Worker(ListSource([]), sqlite_store, [CountingClassifier()]).process(
        messages(shared_data / "ztf_alerts/ampel-ztf/single/ZTF20abyfpze.avro"))
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(select(tables.feature.c.name, tables.feature.c.fid, tables.feature.c.version,
                                   tables.feature.c.value).where(tables.feature.c.version != "ps1_ztf")).all()
    assert len(rows) == 1 and rows[0][:3] == ("n_points", 0, "f1") and rows[0][3] > 10


class NanClassifier(CountingClassifier):
    """Returns a NaN probability for one object: the store's NOT NULL refuses it."""

    def __init__(self, nan_for: str) -> None:
        super().__init__()
        self.nan_for = nan_for

    def classify(self, batch):
        results = super().classify(batch)
        for item, result in zip(batch, results):
            if item.alert.oid == self.nan_for:
                result.outputs[0].probabilities["long"] = float("nan")
        return results


def test_rows_the_store_refuses_make_dead_letters_of_their_alerts_only(shared_data, store):
    batch = messages(shared_data / "ztf_alerts/fink-client/single")
    victim = parse_record(next(iter_records(batch[0].payload))).oid
    report = Worker(ListSource([]), store, [NanClassifier(victim)]).process(batch)
    assert report.n_alerts == 7
    assert [(d.stage, d.oid) for d in report.dead_letters] == [("store", victim)]
    counts = store.row_counts()
    assert counts["object"] == 7 and counts["dead_letter"] == 1 and counts["taxonomy"] == 1


class EpochClassifier(CountingClassifier):
    """Its answer depends on the alert it is given, as a classifier using alert metadata does."""

    def classify(self, batch):
        results = super().classify(batch)
        for item, result in zip(batch, results):
            p = item.alert.candidate.mjd % 1
            result.outputs[0].probabilities.update(long=p, short=1 - p)
        return results


def test_an_old_alert_replayed_late_does_not_overwrite_newer_classifications(shared_data, sqlite_store):
    folder = shared_data / "ztf_alerts/ampel-ztf/ZTF18abxhyqv_nocutouts"
    ordered = sorted(messages(folder), key=lambda m: parse_record(next(iter_records(m.payload))).candidate.mjd)
    Worker(ListSource([]), sqlite_store, [EpochClassifier()]).process(ordered)  # the newest alert wins

    def stored():
        with sqlite_store.engine.connect() as conn:
            return conn.execute(select(tables.probability).order_by(tables.probability.c.class_name)).all()

    before = stored()
    classifier = EpochClassifier()
    Worker(ListSource([]), sqlite_store, [classifier]).process(ordered[:1])  # the oldest, again
    assert classifier.seen  # it was classified (and published) ...
    assert stored() == before  # ... but the newer result stays in the store


def test_published_alerts_carry_their_objects_light_curve(shared_data, sqlite_store):
    sink = RecordingSink()
    Worker(ListSource([]), sqlite_store, sinks=[sink]).process(
        messages(shared_data / "ztf_alerts/ampel-ztf/single/ZTF20abyfpze.avro"))
    (alert,) = sink.alerts
    assert alert.lightcurve is not None and len(alert.lightcurve) == alert.ndet > 10


def test_published_alerts_name_the_known_asteroid_ztf_puts_near_their_candidate(shared_data, sqlite_store):
    """Real ZTF alerts, seven of them near a known asteroid: each classified record carries the
    candidate's ssnamenr/ssdistnr, and null where ZTF says "null" / -999 (none known)."""
    folder = shared_data / "ztf_alerts/ampel-ztf/recent_alerts_v1.8"
    candidates = {record["objectId"]: record["candidate"]
                  for path in sorted(folder.glob("*.avro")) for record in iter_records(path.read_bytes())}
    sink = RecordingSink()
    Worker(ListSource([]), sqlite_store, sinks=[sink]).process(messages(folder))
    sent = {record["objectId"]: (record["ssnamenr"], record["ssdistnr"])
            for record in (decode_classified(encode_classified(classified_record(a))) for a in sink.alerts)}
    expected = {oid: (None, None) if c["ssnamenr"] == "null" else (c["ssnamenr"], c["ssdistnr"])
                for oid, c in candidates.items()}
    assert sent == expected and sent["ZTF18aayhyjr"] == ("43769", 4.0)
    assert sum(name is not None for name, _ in sent.values()) == 7


def test_a_store_without_tables_fails_at_once_instead_of_being_waited_out_as_an_outage(shared_data, tmp_path):
    from sqlalchemy.exc import OperationalError

    store = Store(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no create_all
    batch = messages(shared_data / "ztf_alerts/fink-client/single")
    worker = Worker(ListSource([batch]), store, max_outage_s=600)
    with pytest.raises(OperationalError, match="no such table"):
        worker.run()
    store.dispose()


def test_a_store_that_cannot_be_written_fails_at_once_instead_of_being_waited_out_as_an_outage(
        shared_data, tmp_path):
    from sqlalchemy.exc import OperationalError

    made = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    made.create_all()
    made.dispose()
    store = Store(f"sqlite:///file:{tmp_path / 'store.sqlite3'}?mode=ro&uri=true")  # as a file of mode 444
    worker = Worker(ListSource([messages(shared_data / "ztf_alerts/fink-client/single")]), store, max_outage_s=600)
    with pytest.raises(OperationalError, match="readonly database"):
        worker.run()
    store.dispose()
