"""The listener on a real (loopback tansu) Kafka broker; issue 4, acceptance 3.

Real ZTF alerts go to the input topic, an ``alerce-classifier run`` worker classifies them
onto the classified topic, and the listener (as ``readstreams`` would run it) turns them
into TOM targets. An unreadable message on the classified topic is logged and skipped.
Running the same alerts through again changes nothing in the TOM, and the listener reads
only the new messages (its offsets were committed). The listener fires the example TOM's
hook, so the automatic TNS policy sees each alert: a known asteroid is never reported.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target, TargetExtra

from alerce_broker_plugin.stream import ClassifiedAlertStream
from classifier_service.stream.consumer import caught_up
from classifier_service.stream.kafka import create_topics
from classifier_service.stream.tansu import FAST_CONSUMER_SETTINGS
from classifier_service.surveys.avro import iter_records
from tests.facilities.conftest import tns  # noqa: F401 (fixture: the TNS stand-in as the TOM's TNS)
from tests.plugin.alerce_standin import ALERT_FILES, load_alerts

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

IDLE_S = 2.0  # the listener and the worker stop after this long without a message, if not stopped before


def new_topics(bootstrap: str, *names: str) -> list[str]:
    suffix = uuid.uuid4().hex[:6]
    topics = [f"{name}-{suffix}" for name in names]
    create_topics(bootstrap, dict.fromkeys(topics, 1))
    return topics


def produce(bootstrap: str, topic: str, payloads: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 10_000_000})
    for payload in payloads:
        producer.produce(topic, payload)
    assert producer.flush(30) == 0


@contextmanager
def stopped_when_caught_up(bootstrap: str, group: str, topic: str, stop: Callable[[], None]) -> Iterator[None]:
    """Calls ``stop`` once ``group`` has committed every message of ``topic``: the consumer is
    done, so nobody waits out IDLE_S (which stays as the fallback)."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if caught_up(bootstrap, group, topic, timeout_s=2.0):
                stop()
                return
            done.wait(0.5)  # each look is a new consumer: not more often

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def listen(bootstrap: str, topic: str, group: str):
    stream = ClassifiedAlertStream(BOOTSTRAP_SERVERS=bootstrap, TOPIC=topic, GROUP_ID=group, FILTERS=[],  # every alert
                                   CONSUMER_CONFIG=FAST_CONSUMER_SETTINGS, MAX_BACKOFF_S=1.0)
    with stopped_when_caught_up(bootstrap, group, topic, stream.stop):
        return stream.listen(stop_after_idle_s=IDLE_S)


def work(command: list[str], bootstrap: str, raw: str, timeout_s: float) -> None:
    """``alerce-classifier run`` (group ``classifier``), ended by SIGTERM once it has committed
    every message of ``raw``; it must exit 0."""
    worker = subprocess.Popen([*command, "--group-id", "classifier", "--stop-after-idle", str(IDLE_S)])
    try:
        with stopped_when_caught_up(bootstrap, "classifier", raw, lambda: worker.send_signal(signal.SIGTERM)):
            assert worker.wait(timeout_s) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def tom_state() -> tuple:
    return (Target.objects.count(), PhotometryReducedDatum.objects.count(), TargetExtra.objects.count(),
            sorted(Target.objects.values_list("modified", flat=True)))


def test_an_unreachable_broker_is_logged_not_fatal(caplog):
    stream = ClassifiedAlertStream(BOOTSTRAP_SERVERS="127.0.0.1:9", TOPIC="classified",
                                   CONSUMER_CONFIG={"reconnect.backoff.max.ms": 200})
    threading.Timer(2.0, stream.stop).start()
    assert stream.listen().messages == 0
    assert "Kafka" in caplog.text


def run_worker(bootstrap: str, raw: str, classified: str, store: Path) -> None:
    """``alerce-classifier run`` with the stamp classifier until it is done with the input topic."""
    work([sys.executable, "-m", "classifier_service.cli", "--log-level", "WARNING", "run",
          "--bootstrap-servers", bootstrap, "--topic", raw, "--output-topic", classified,
          "--db", f"sqlite:///{store}", "--fast-group", "--classifiers", "stamp_classifier"], bootstrap, raw, 90)


def test_alerts_on_the_input_topic_become_tom_targets_exactly_once(tansu, shared_data, tmp_path):
    from tom_alerce.models import TargetClassification

    payloads = [path.read_bytes() for folder in ALERT_FILES for path in sorted((shared_data / folder).glob("*.avro"))]
    oids = {a.oid for a in load_alerts(shared_data)}
    raw, classified = new_topics(tansu.bootstrap_servers, "ztf-raw", "classified")
    produce(tansu.bootstrap_servers, raw, payloads)
    run_worker(tansu.bootstrap_servers, raw, classified, tmp_path / "store.sqlite3")
    produce(tansu.bootstrap_servers, classified, [b"not a classified alert"])
    report = listen(tansu.bootstrap_servers, classified, "tom")

    assert report.bad_messages == 1 and report.messages > len(oids)
    assert set(Target.objects.values_list("name", flat=True)) == oids
    for target in Target.objects.all():
        assert PhotometryReducedDatum.objects.filter(target=target, brightness__isnull=False).exists()
    classified_by = set(TargetClassification.objects.values_list("classifier_name", flat=True))
    assert classified_by == {"stamp_classifier"}
    assert TargetClassification.objects.values("target").distinct().count() == len(oids)
    state = tom_state(), TargetClassification.objects.count()

    produce(tansu.bootstrap_servers, raw, payloads)  # the same alerts again, end to end
    run_worker(tansu.bootstrap_servers, raw, classified, tmp_path / "store.sqlite3")
    replay = listen(tansu.bootstrap_servers, classified, "tom")
    assert replay.messages == report.messages - 1 and replay.changed == 0  # the new messages only
    assert (tom_state(), TargetClassification.objects.count()) == state
    assert classified_by == set(TargetClassification.objects.values_list("classifier_name", flat=True))


def test_an_alert_ztf_puts_on_a_known_asteroid_is_not_reported_to_tns(tansu, shared_data, tmp_path, tns):
    """Real ZTF alerts, seven near a known asteroid, through the worker and the listener into the
    example TOM's hook: the automatic TNS policy skips those within 5 arcsec, and says why."""
    from facilities.models import TNSAutoReportDecision, TNSAutoReportPolicy

    policy = TNSAutoReportPolicy.objects.create(name="auto", dry_run=True, min_probability=0.0, min_detections=1,
                                                max_magnitude=25.0, daily_cap=100)
    paths = sorted((shared_data / "ztf_alerts/ampel-ztf/recent_alerts_v1.8").glob("*.avro"))
    candidates = {record["objectId"]: record["candidate"]
                  for path in paths for record in iter_records(path.read_bytes())}
    asteroids = {oid: c for oid, c in candidates.items() if c["ssnamenr"] != "null" and 0 <= c["ssdistnr"] <= 5}
    raw, classified = new_topics(tansu.bootstrap_servers, "ztf-raw", "classified")
    produce(tansu.bootstrap_servers, raw, [path.read_bytes() for path in paths])
    run_worker(tansu.bootstrap_servers, raw, classified, tmp_path / "store.sqlite3")
    listen(tansu.bootstrap_servers, classified, "tom")

    reasons = dict(TNSAutoReportDecision.objects.filter(policy=policy).values_list("target__name", "reason"))
    assert set(reasons) == set(candidates)  # every alert reached the policy
    assert sorted(asteroids) == ["ZTF18aayhxzx", "ZTF18aayhyjr", "ZTF18aayhyju"]  # 4-5 arcsec; 4 more are farther
    for oid, candidate in asteroids.items():
        assert reasons[oid] == (f"not a transient: known solar-system object {candidate['ssnamenr']} "
                                f"is {candidate['ssdistnr']:.1f} arcsec away")
    assert not [oid for oid, reason in reasons.items() if oid not in asteroids and reason.startswith("not a transient")]
    assert not TNSAutoReportDecision.objects.filter(target__name__in=asteroids, report=True).exists()
    assert tns.state.uploads == []
