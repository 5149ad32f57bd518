"""``alerce-classifier simulate`` writes alerts to files or to a Kafka topic, and says what it did."""
from __future__ import annotations

import json

import fastavro
import numpy as np
import pytest

from classifier_service.cli import main
from classifier_service.simulate.calibrate import OUTPUT, collect
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records


def test_simulate_writes_avro_files_of_the_requested_size(tmp_path, capsys):
    assert main(["simulate", "--n-alerts", "7", "--seed", "1", "--out", str(tmp_path), "--per-file", "3"]) == 0
    files = sorted(tmp_path.glob("*.avro"))
    assert len(files) == 3
    counts = [len(list(iter_records(f.read_bytes()))) for f in files]
    assert counts == [3, 3, 1]
    for path in files:
        with path.open("rb") as stream:
            assert all(parse_record(r).cutouts.present() for r in fastavro.reader(stream))
    assert "simulated 7 alerts" in capsys.readouterr().out


def test_simulate_rejects_bad_arguments(tmp_path, capsys):
    assert main(["simulate", "--n-alerts", "3", "--out", str(tmp_path), "--per-file", "0"]) == 2
    assert main(["simulate", "--n-alerts", "3", "--out", str(tmp_path), "--class-mix", "SN"]) == 2
    assert main(["simulate", "--n-alerts", "3", "--bootstrap-servers", "127.0.0.1:1"]) == 2
    assert main(["simulate", "--n-alerts", "3"]) == 2


@pytest.mark.kafka
def test_simulate_creates_the_topic_and_produces_one_alert_per_message(tansu, capsys):
    from confluent_kafka import Consumer

    from classifier_service.stream.tansu import FAST_CONSUMER_SETTINGS

    topic = "simulated_alerts_test"
    assert main(["simulate", "--n-alerts", "12", "--seed", "2", "--bootstrap-servers", tansu.bootstrap_servers,
                 "--topic", topic, "--partitions", "2"]) == 0
    consumer = Consumer({"bootstrap.servers": tansu.bootstrap_servers, "group.id": "simulate-test",
                         "auto.offset.reset": "earliest", **FAST_CONSUMER_SETTINGS})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        assert len(metadata.topics[topic].partitions) == 2
        consumer.subscribe([topic])
        payloads = []
        for _ in range(60):
            payloads += [m.value() for m in consumer.consume(20, timeout=1.0) if m.error() is None]
            if len(payloads) >= 12:
                break
    finally:
        consumer.close()
    assert len(payloads) == 12
    assert all(len(list(iter_records(p))) == 1 for p in payloads)
    assert f"topic {topic}" in capsys.readouterr().out


def test_shipped_observing_model_is_a_small_summary_of_the_real_alerts(shared_data):
    shipped = json.loads(OUTPUT.read_text())
    assert OUTPUT.stat().st_size < 16_000, "statistics, never alerts"
    fresh = collect(shared_data)  # recomputing from the real alerts gives the shipped statistics
    for band in ("1", "2"):
        np.testing.assert_allclose(fresh["diffmaglim"][band][1:-1], shipped["diffmaglim"][band][1:-1], atol=0.05)
    assert fresh["night_filters"].keys() == shipped["night_filters"].keys()
    assert 19.5 < shipped["diffmaglim"]["2"][10] < 20.5, "median r-band limit"
    assert fresh["candidate_fields"]["by_host"].keys() == shipped["candidate_fields"]["by_host"].keys()
    assert fresh["candidate_fields"]["chipsf_vs_height"] == pytest.approx(shipped["candidate_fields"]["chipsf_vs_height"],
                                                                          abs=0.05)
