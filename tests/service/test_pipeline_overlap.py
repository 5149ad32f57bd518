"""Worker.run writes batch N while it decodes, parses and classifies batch N+1: what that keeps.

Nothing of batch N+1 reads what batch N writes before N is committed; offsets are committed in
order, each after its batch's write; a failed write is handled as without the overlap before
batch N+1 goes further.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from classifier_service.store import Store, tables
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import RawMessage
from classifier_service.worker import Worker
from tests.service.test_worker import ListSource

ONE_OBJECT = "ztf_alerts/ampel-ztf/ZTF18abxhyqv_nocutouts"  # four alerts of one object
EIGHT_OBJECTS = "ztf_alerts/fink-client/single"  # one alert each of eight objects


def messages(path: Path) -> list[RawMessage]:
    return list(ArchiveSource([path]).messages())


def logged(store: Store, events: list[str], write=None) -> None:
    """Log the store's history reads ("read") and writes ("write", then "written") in ``events``."""
    read, write = store.detections_of, write or store.write

    def reading(oids):
        events.append("read")
        return read(oids)

    def writing(rows):
        events.append("write")
        write(rows)
        events.append("written")

    store.detections_of, store.write = reading, writing


def stored_lightcurve(store: Store) -> tuple:
    with store.engine.connect() as conn:
        obj = conn.execute(select(tables.object_table.c.oid, tables.object_table.c.ndet,
                                  tables.object_table.c.firstmjd, tables.object_table.c.lastmjd)).all()
        candids = conn.execute(select(tables.detection.c.candid).order_by(tables.detection.c.candid)).scalars().all()
    return obj, candids


def test_an_object_in_consecutive_batches_is_merged_with_the_history_the_batch_before_wrote(
        shared_data, store, tmp_path):
    alerts = messages(shared_data / ONE_OBJECT)
    events: list[str] = []
    logged(store, events)
    Worker(ListSource([[alert] for alert in alerts]), store).run()
    reference = Store(f"sqlite:///{tmp_path / 'one_batch.sqlite3'}")
    reference.create_all()
    Worker(ListSource([]), reference).process(alerts)

    assert events == ["read", "write", "written"] * len(alerts)  # each read after the write before it
    assert stored_lightcurve(store) == stored_lightcurve(reference)
    assert stored_lightcurve(store)[0][0].ndet > 4
    reference.dispose()


def test_a_batch_of_other_objects_is_read_and_parsed_while_the_batch_before_is_written(shared_data, store):
    alerts = messages(shared_data / EIGHT_OBJECTS)
    events: list[str] = []
    second_read = threading.Event()

    def write_after_the_next_read(rows, write=store.write):
        if events.count("write") == 1:  # the first batch's write waits for the second batch's read
            assert second_read.wait(timeout=60), "the next batch did not read while this one was written"
        write(rows)

    logged(store, events, write_after_the_next_read)
    read = store.detections_of
    store.detections_of = lambda oids: (read(oids), second_read.set() if events.count("read") == 2 else None)[0]
    source = ListSource([alerts[:4], alerts[4:]], events)
    report = Worker(source, store).run()

    second_read = [k for k, event in enumerate(events) if event == "read"][1]
    assert second_read < events.index("written") < events.index("commit")
    assert events[-3:] == ["write", "written", "commit"]
    assert report.n_alerts == 8 and store.row_counts()["object"] == 8


def test_offsets_are_committed_in_order_each_after_its_batchs_write(shared_data, store):
    alerts = messages(shared_data / EIGHT_OBJECTS)
    events: list[str] = []
    logged(store, events)
    source = ListSource([alerts[:3], alerts[3:6], alerts[6:]], events)
    Worker(source, store).run()

    commits = [k for k, event in enumerate(events) if event == "commit"]
    writes_done = [k for k, event in enumerate(events) if event == "written"]
    assert len(commits) == len(writes_done) == 3
    assert all(written < commit for written, commit in zip(writes_done, commits))
    assert [len(batch) for batch in source.committed] == [3, 3, 2]


def test_a_write_that_fails_ends_the_run_before_the_next_batch_is_written_or_committed(shared_data, store):
    alerts = messages(shared_data / EIGHT_OBJECTS)
    writes = []

    def failing(rows):
        writes.append(rows)
        raise RuntimeError("the disk caught fire")

    store.write = failing
    source = ListSource([alerts[:4], alerts[4:]])
    with pytest.raises(RuntimeError, match="disk caught fire"):
        Worker(source, store).run()
    assert len(writes) == 1 and source.committed == []


def test_an_outage_during_a_write_retries_that_batch_and_the_next_one_follows_in_order(shared_data, store):
    alerts = messages(shared_data / EIGHT_OBJECTS)
    write, failures = store.write, []

    def down_once(rows):
        if not failures:
            failures.append(rows)
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        write(rows)

    store.write = down_once
    source = ListSource([alerts[:4], alerts[4:]])
    report = Worker(source, store, max_backoff_s=0.1).run()

    assert len(failures) == 1 and report.n_alerts == 8
    assert [[m.source for m in batch] for batch in source.committed] == [
        [m.source for m in alerts[:4]], [m.source for m in alerts[4:]]]
    assert store.row_counts()["object"] == 8


def test_a_next_batch_that_fails_leaves_the_batch_before_committed_as_without_overlap(shared_data, store):
    alerts = messages(shared_data / EIGHT_OBJECTS)
    owners, calls = store.owners_of, []

    def broken_on_the_second_batch(candids):
        calls.append(candids)
        if len(calls) == 2:
            raise RuntimeError("a bug in the second batch's read")
        return owners(candids)

    store.owners_of = broken_on_the_second_batch
    source = ListSource([alerts[:4], alerts[4:]])
    with pytest.raises(RuntimeError, match="second batch"):
        Worker(source, store).run()
    assert [len(batch) for batch in source.committed] == [4]
    assert store.row_counts()["object"] == 4
