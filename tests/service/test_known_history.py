"""Decoding skips the history the store holds, and the store ends up exactly as without the skip."""
from __future__ import annotations

import pytest

from classifier_service.bench.scenarios import MemorySource
from classifier_service.simulate import simulate_alert_packets
from classifier_service.simulate.rubin import simulate_rubin_alerts
from classifier_service.store import Store
from classifier_service.surveys.known_history import decode_batch
from classifier_service.worker import Worker
from tests.service.conftest import table_checksums


def replayed(payloads, url, *, skip_stored_history):
    store = Store(url)
    store.create_all()
    for _ in range(2):  # the second pass finds every history entry stored
        worker = Worker(MemorySource(payloads, 10), store)
        if not skip_stored_history:
            worker.stages[0].store = None
        worker.run()
    return store


# (survey, packets, the history arrays, the field that marks an entry a detection)
SURVEYS = {
    "ZTF": (lambda n, seed: simulate_alert_packets(n, seed=seed), "prv_candidates", "fp_hists", "magpsf"),
    "Rubin": (lambda n, seed: simulate_rubin_alerts(n, seed=seed), "prvDiaSources", "prvDiaForcedSources", "diaSourceId"),
}


@pytest.mark.parametrize("survey", SURVEYS)
def test_stored_history_is_dropped_and_the_stored_rows_are_the_same(tmp_path, survey):
    simulate, detections, forced, marks_detection = SURVEYS[survey]
    payloads = list(simulate(60, 3))
    full = replayed(payloads, f"sqlite:///{tmp_path / 'full.sqlite3'}", skip_stored_history=False)
    skipped = replayed(payloads, f"sqlite:///{tmp_path / 'skip.sqlite3'}", skip_stored_history=True)

    assert table_checksums(skipped) == table_checksums(full)
    records = [r for records in decode_batch(payloads, skipped) for r in records]
    everything = [r for records in decode_batch(payloads) for r in records]
    assert sum(len(r[detections] or ()) for r in records) < sum(len(r[detections] or ()) for r in everything)
    assert not any(p[marks_detection] is not None for r in records for p in r[detections] or ())
    assert any(r[forced] for r in everything) and not any(r[forced] for r in records)
    full.dispose()
    skipped.dispose()


def test_an_unreadable_payload_is_its_error_and_the_others_decode():
    good = next(iter(simulate_alert_packets(1, seed=0)))
    decoded = decode_batch([b"Obj\x01garbage", good])
    assert isinstance(decoded[0], ValueError) and "Avro" in str(decoded[0])
    assert decoded[1][0]["objectId"]


def test_a_batchs_objects_are_read_from_the_store_once_and_the_drop_asks_nothing_more(tmp_path):
    payloads = list(simulate_alert_packets(40, seed=5))
    store = Store(f"sqlite:///{tmp_path / 'reads.sqlite3'}")
    store.create_all()
    reads = []
    for name in ("detections_of", "non_detections_of", "forced_photometry_keys_of", "existing_oids"):
        method = getattr(store, name)
        setattr(store, name, lambda oids, method=method, name=name: reads.append(name) or method(oids))
    for _ in range(2):  # an empty store, then one that holds every object
        Worker(MemorySource(payloads, 20), store).run()

    assert sorted(reads) == sorted(["detections_of", "non_detections_of", "forced_photometry_keys_of"] * 4)
    store.dispose()
