"""Issue 2, acceptance 3: two workers in one group, one SIGKILLed mid-batch, nothing lost or doubled.

Every readable real alert of ``shared/data/ztf_alerts`` (one alert per message, as ZTF
sends them, plus the damaged files whole) goes to a 4-partition topic. Two
``alerce-classifier run`` processes share the partitions and one PostgreSQL store. Worker A
runs as ``tests.service.paused_worker``, which holds its first commit (after storing and
producing its batch), and is killed right there; the survivor takes over A's partitions, replays the uncommitted batch, and
the store still holds each alert exactly once. The output topic is at-least-once: A's
batch shows up twice there, which proves the kill really came between produce and commit.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from alerce_contract.classified import decode_classified
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.kafka import create_topics
from tests.conftest import REPO
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from tests.service.topics import committed, produce, read_to_end, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(180)]

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"  # SQLAlchemy 2.1 defaults to psycopg 3
PARTITIONS = 4
BATCH_SIZE = 20
RUN_COMMAND = [sys.executable, "-m", "classifier_service.cli", "run"]
PAUSED_RUN_COMMAND = [sys.executable, "-m", "tests.service.paused_worker", "run"]


@pytest.fixture
def postgres_url():
    """A fresh database with the store's tables (created once, not raced by two workers)."""
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    name = f"exactly_once_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 (any connection failure)
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    store = Store(f"{POSTGRES}/{name}")
    store.create_all()
    store.dispose()
    yield f"{POSTGRES}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def real_alert_messages(shared_data: Path) -> tuple[list[bytes], set[int], set[str], int]:
    """Payloads, the candids and oids of the readable alerts, and how many payloads are damaged."""
    payloads, candids, oids, damaged = [], set(), set(), 0
    for message in ArchiveSource([shared_data / "ztf_alerts"]).messages():
        payloads.append(message.payload)
        try:
            records = list(iter_records(message.payload))
        except ValueError:
            damaged += 1
            continue
        alerts = [parse_record(record) for record in records]  # every real ZTF alert parses
        candids.update(alert.candid for alert in alerts)
        oids.update(alert.oid for alert in alerts)
    return payloads, candids, oids, damaged


class Worker:
    """One ``alerce-classifier run`` subprocess whose log lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str], command: list[str] = RUN_COMMAND) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [*command, *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=REPO,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def assigned(self) -> set[str] | None:
        """The partitions of the latest assignment, None before the first."""
        latest = [line for line in self.lines if "assigned partitions" in line]
        if not latest:
            return None
        inside = latest[-1].split("[", 1)[1].rsplit("]", 1)[0]
        return {p.strip() for p in inside.split(",") if p.strip()}

    def logged(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_two_workers_one_killed_mid_batch_store_every_alert_exactly_once(tansu, shared_data, postgres_url):
    payloads, candids, oids, damaged = real_alert_messages(shared_data)
    assert len(candids) > 250 and damaged >= 1
    suffix = uuid.uuid4().hex[:6]
    raw, out, dead, group = f"ztf-raw-{suffix}", f"classified-{suffix}", f"dead-{suffix}", f"g-{suffix}"
    create_topics(tansu.bootstrap_servers, {raw: PARTITIONS, out: PARTITIONS, dead: 1})
    args = ["--bootstrap-servers", tansu.bootstrap_servers, "--topic", raw, "--group-id", group,
            "--output-topic", out, "--dead-letter-topic", dead, "--db", postgres_url,
            "--batch-size", str(BATCH_SIZE), "--fast-group", "--classifiers", "stamp_classifier"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERCE_")}
    doomed = Worker(args, env, command=PAUSED_RUN_COMMAND)
    survivor = Worker(args, env)
    workers = (doomed, survivor)
    partitions = [i % PARTITIONS for i in range(len(payloads))]
    ends = [partitions.count(p) for p in range(PARTITIONS)]
    try:
        # Both in the group, two partitions each, before any alert arrives.
        wait_for(lambda: doomed.assigned() and survivor.assigned()
                 and len(doomed.assigned() | survivor.assigned()) == PARTITIONS
                 and not doomed.assigned() & survivor.assigned(), 60, "a 2+2 assignment", *(w.lines for w in workers))
        produce(tansu.bootstrap_servers, raw, payloads, partitions)

        wait_for(lambda: doomed.logged("holding commit"), 30, "the doomed worker's first batch", *(w.lines for w in workers))
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait()

        # The survivor takes every partition over and commits each to its end, A's replayed too.
        wait_for(lambda: len(survivor.assigned()) == PARTITIONS
                 and committed(tansu.bootstrap_servers, group, raw, PARTITIONS) == ends, 90,
                 "every partition committed to its end by the survivor", *(w.lines for w in workers))
        survivor.process.send_signal(signal.SIGTERM)
        assert survivor.process.wait(30) == 0, "SIGTERM: finish the batch, commit, leave the group"
    finally:
        for worker in workers:
            worker.stop()

    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql)).scalar_one()
        assert candids <= set(conn.scalars(text("SELECT candid FROM detection"))), "every alert in the store"
        assert one("SELECT count(*) FROM detection") == one("SELECT count(DISTINCT candid) FROM detection")
        assert one("SELECT count(*) FROM object") == len(oids)
        assert one("""SELECT count(*) FROM object o WHERE o.ndet <>
                      (SELECT count(*) FROM detection d WHERE d.oid = o.oid)""") == 0
        # Each object's classes ranked 1..k once per classifier: no probability row doubled.
        assert one("""SELECT count(*) FROM (SELECT oid, classifier_name, ranking FROM probability
                      GROUP BY 1, 2, 3 HAVING count(*) > 1) AS doubled""") == 0
        assert one("SELECT count(*) FROM dead_letter WHERE stage = 'decode'") == damaged
        assert one("SELECT count(*) FROM dead_letter") == one(
            "SELECT count(*) FROM (SELECT DISTINCT source, stage FROM dead_letter) AS d")
    engine.dispose()

    published = Counter(decode_classified(m.value())["candid"] for m in read_to_end(tansu.bootstrap_servers, out, PARTITIONS))
    assert candids <= set(published), "every alert reached the output topic"
    assert any(n > 1 for n in published.values()), "the killed worker's uncommitted batch went out twice"
