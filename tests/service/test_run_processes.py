"""``run --processes 2``: two supervised workers in one consumer group share the topic's
partitions; every alert is stored once, and the supervisor exits 0 when both do."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from classifier_service.bench.scenarios import identity_of, produce
from classifier_service.cli import main
from classifier_service.simulate import simulate_alert_packets
from classifier_service.store import Store, tables
from classifier_service.stream.kafka import create_topics

pytestmark = pytest.mark.kafka


def test_two_worker_processes_store_every_alert_of_the_topic_once(tansu, tmp_path):
    topic = f"processes-{uuid.uuid4().hex[:6]}"
    create_topics(tansu.bootstrap_servers, {topic: 4})
    payloads = list(simulate_alert_packets(40, seed=5))
    identities = [identity_of(payload) for payload in payloads]
    produce(tansu.bootstrap_servers, topic, payloads, {}, identities)
    db = f"sqlite:///{tmp_path / 'two.sqlite3'}"

    code = main(["--log-level", "WARNING", "run", "--processes", "2", "--bootstrap-servers",
                 tansu.bootstrap_servers, "--topic", topic, "--group-id", topic, "--db", db,
                 "--classifiers", "none", "--stop-after-idle", "4", "--fast-group", "--batch-size", "10"])

    assert code == 0
    store = Store(db)
    with store.engine.connect() as conn:
        stamped = conn.scalar(select(func.count()).select_from(tables.detection).where(tables.detection.c.has_stamp))
        objects = conn.scalar(select(func.count()).select_from(tables.object_table))
    store.dispose()
    assert stamped == len(payloads)
    assert objects == len({oid for oid, _ in identities})
