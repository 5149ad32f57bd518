"""Issue 13, acceptance 1: every classifier answers only for the surveys it declares.

The real Rubin alerts replayed with the shipped ZTF stamp classifier are all stored, and
none of them gets a ZTF classifier's output; ``classify`` says plainly that no loaded
classifier answers for them.
"""
from __future__ import annotations

from sqlalchemy import select

from classifier_service.classifiers.stamp_classifier import StampClassifier
from classifier_service.commands.classify import classify_archives
from classifier_service.store import Store, tables
from classifier_service.stream.archive import ArchiveSource
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.worker import Worker
from tests.service.fakes import CountingClassifier


def rubin_files(shared_data):
    return sorted((shared_data / "lsst_alerts").rglob("*.avro"))


def test_every_classifier_declares_its_surveys():
    stamp = StampClassifier.from_artifacts()
    assert stamp.surveys == frozenset({"ZTF"})


def test_ztf_models_never_answer_for_rubin_alerts(shared_data, tmp_path):
    files = rubin_files(shared_data)
    oids = {parse_record(r).oid for p in files for r in iter_records(p.read_bytes())}
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.create_all()
    anything = CountingClassifier()  # answers for every survey: proves the Rubin alerts reach Classify
    report = Worker(ArchiveSource(files, batch_size=10), store, [StampClassifier.from_artifacts(), anything]).run()
    assert report.n_dead_letters == 0
    with store.engine.connect() as db:
        stored = set(db.scalars(select(tables.object_table.c.oid)))
        answered = set(db.execute(select(tables.probability.c.classifier_name).distinct()).scalars())
    store.dispose()
    assert stored == oids and anything.seen
    assert answered == {"counting"}


def test_classify_says_when_no_classifier_answers(shared_data):
    lines = list(classify_archives(rubin_files(shared_data), [StampClassifier.from_artifacts()]))
    assert lines and all(line["classifications"] == {} for line in lines)
    assert {line["note"] for line in lines} == {"no loaded classifier answers for LSST alerts"}
