"""Issue 11, acceptance 2: poison pills and a PostgreSQL outage under ``alerce-classifier run``.

One partition holds real ZTF alerts with three poison pills among them: an alert whose
objectId has 40 characters, one whose objectId holds a NUL, and an undecodable 1.5 MB
message (its dead letter is over Kafka's 1 MB message limit). The worker reaches
PostgreSQL through a TCP proxy on loopback, which the test closes in the middle of the
stream until the worker has failed RETRIES_SEEN attempts in a row (waiting on what the worker
does, not on a clock). Then: the worker waits the outage out, commits the group's offset to
the end of the partition and exits 0 on SIGTERM; each pill is a dead letter (a row, and a
message or a reference on the dead-letter topic); every other alert is stored and published
exactly once (everything on the topics is read, up to an end marker).
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from alerce_contract.classified import decode_classified
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.kafka import create_topics
from classifier_service.stream.tansu import free_port
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from tests.service.conftest import _fresh_postgres_database
from tests.service.mutants import encode, real_alerts
from tests.service.topics import committed, produce, read_to_end, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(240)]

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
N_ALERTS = 60
RETRIES_SEEN = 3  # failed attempts, 0.5 s and 1 s apart, before PostgreSQL comes back


class Proxy:
    """A loopback TCP proxy to PostgreSQL that can be closed (refusing and dropping every
    connection, as a server that went away) and opened again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets + [self._listener], []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def database():
    """A fresh database with the store's tables; yields its name."""
    for url in _fresh_postgres_database():
        store = Store(url)
        store.create_all()
        store.dispose()
        yield url.rsplit("/", 1)[1]


def valid_alerts(shared_data) -> list:
    """Real single-alert messages with distinct candids."""
    seen, payloads = set(), []
    for message in ArchiveSource([shared_data / "ztf_alerts"]).messages():
        try:
            alert = parse_record(next(iter(iter_records(message.payload))))
        except (ValueError, StopIteration):
            continue
        if alert.candid not in seen:
            seen.add(alert.candid)
            payloads.append(message.payload)
    return real_alerts(payloads[:N_ALERTS])


def poison_pills(alerts) -> dict[str, bytes]:
    long_oid, nul_oid = alerts[0], alerts[1]
    return {
        "objectId of 40 characters": encode({**long_oid.record, "objectId": "ZTF18" + "a" * 35}, long_oid.schema),
        "objectId with a NUL": encode({**nul_oid.record, "objectId": nul_oid.record["objectId"][:5] + "\x00"
                                       + nul_oid.record["objectId"][5:]}, nul_oid.schema),
        "undecodable 1.5 MB": random.Random(11).randbytes(1_500_000),
    }


def test_poison_pills_are_dead_letters_and_an_outage_is_waited_out(tansu, shared_data, database):
    alerts = valid_alerts(shared_data)
    pills = poison_pills(alerts)
    candids = {a.record["candidate"]["candid"] for a in alerts}
    first, second = [a.payload for a in alerts[:30]], [a.payload for a in alerts[30:]]
    suffix = uuid.uuid4().hex[:6]
    raw, out, dead, group = f"raw-{suffix}", f"classified-{suffix}", f"dead-{suffix}", f"g-{suffix}"
    create_topics(tansu.bootstrap_servers, {raw: 1, out: 1, dead: 1})
    proxy = Proxy((POSTGRES_HOST, POSTGRES_PORT))
    proxy.open()
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/{database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERCE_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "classifier_service.cli", "run", "--bootstrap-servers", tansu.bootstrap_servers,
         "--topic", raw, "--group-id", group, "--output-topic", out, "--dead-letter-topic", dead, "--db", url,
         "--batch-size", "10", "--batch-timeout", "0.5", "--fast-group", "--classifiers", "none",
         "--max-outage", "120"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(worker.stderr), daemon=True).start()
    engine = create_engine(f"postgresql+psycopg2://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}")

    def stored() -> set[int]:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT candid FROM detection WHERE has_stamp")))

    try:
        wait_for(lambda: any("assigned partitions" in line for line in lines), 60, "the group join", lines)
        # One partition: valid alerts, the three pills among them, more valid alerts.
        produce(tansu.bootstrap_servers, raw, first[:10] + [pills["objectId of 40 characters"]] + first[10:20]
                + [pills["objectId with a NUL"]] + first[20:] + [pills["undecodable 1.5 MB"]])
        wait_for(lambda: {a.record["candidate"]["candid"] for a in alerts[:30]} <= stored(), 60,
                 "the first half stored", lines)
        proxy.close()  # PostgreSQL goes away while the rest arrives, for several failed attempts
        produce(tansu.bootstrap_servers, raw, second)
        wait_for(lambda: sum("retrying in" in line for line in lines) >= RETRIES_SEEN, 60,
                 f"{RETRIES_SEEN} failed attempts", lines)
        proxy.open()
        wait_for(lambda: committed(tansu.bootstrap_servers, group, raw) == [len(alerts) + len(pills)], 120,
                 "the offset committed to the end of the partition", lines)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, "".join(lines[-30:])
    finally:
        if worker.poll() is None:
            worker.kill()
        proxy.close()
    log = "".join(lines)
    assert log.count("retrying in") >= RETRIES_SEEN and "reachable again" in log, log[-3000:]
    print("".join(line for line in lines if "retrying in" in line or "reachable again" in line))

    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
        assert stored() == candids
        assert one("SELECT count(*) FROM detection") == one("SELECT count(DISTINCT candid) FROM detection")
        letters = conn.execute(text("SELECT stage, reason, length(payload), payload_size FROM dead_letter")).all()
    engine.dispose()
    assert sorted(stage for stage, *_ in letters) == ["decode", "parse", "parse"]
    reasons = " | ".join(reason for _, reason, *_ in letters)
    assert "is not a ZTF id" in reasons and "non-printable character U+0000" in reasons, reasons
    assert "not an Avro container" in reasons, reasons
    assert [(kept, size) for stage, _, kept, size in letters if stage == "decode"] == [(1 << 20, 1_500_000)]

    published = Counter(decode_classified(m.value())["candid"] for m in read_to_end(tansu.bootstrap_servers, out, timeout_s=20))
    assert set(published) == candids and set(published.values()) == {1}, "each alert published exactly once"
    dead_messages = read_to_end(tansu.bootstrap_servers, dead, timeout_s=20)
    assert len(dead_messages) == 3
    [reference] = [m for m in dead_messages if dict(m.headers()).get("payload")]
    assert dict(reference.headers())["payload_size"] == b"1500000" and not reference.value()
    assert committed(tansu.bootstrap_servers, group, raw) == [len(alerts) + len(pills)]


def test_the_proxy_really_cuts_the_database_off():
    """The outage above is real: through the closed proxy nothing connects."""
    proxy = Proxy((POSTGRES_HOST, POSTGRES_PORT))
    proxy.open()
    proxy.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()
