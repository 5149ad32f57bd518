"""``make demo``: its small decisions, and the whole chain end to end (tansu, simulator, worker,
API, listener and TOM come up, classified targets reach the TOM, every process is stopped)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from example_tom.demo import free_port, last_night_mjd, port_is_free, seed_followup_rule, wait_for_group

REPO = Path(__file__).resolve().parents[2]


def test_the_simulated_night_is_the_last_one_that_has_ended():
    assert last_night_mjd(61365.55) == 61365.0  # 13:12 UTC: Palomar's night ended at 12:00 UTC
    assert last_night_mjd(61365.20) == 61364.0  # 04:48 UTC: tonight is still under way


def test_a_taken_port_is_replaced_by_a_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert free_port(taken) != taken


def test_a_port_the_last_run_left_in_time_wait_is_free_for_the_rerun():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver and uvicorn do
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end of the connection waits in TIME_WAIT
        client.close()
    assert port_is_free(port)
    assert free_port(port) == port


def test_the_demo_seeds_one_dry_run_followup_rule_at_a_chilean_site(db):
    from facilities.followup.visibility import KNOWN_SITES

    rule = seed_followup_rule()
    assert seed_followup_rule() == rule  # a rerun changes nothing
    assert rule.dry_run and rule.active and rule.site in KNOWN_SITES and KNOWN_SITES[rule.site][1] < -29


@pytest.mark.kafka
def test_the_demo_waits_until_a_consumer_has_stored_and_committed_every_message_of_its_topic(tansu):
    from confluent_kafka import Producer

    from classifier_service.stream.consumer import KafkaSource
    from classifier_service.stream.kafka import create_topics
    from classifier_service.stream.tansu import FAST_CONSUMER_SETTINGS

    servers, topic = tansu.bootstrap_servers, f"demo-wait-{os.getpid()}"
    assert not wait_for_group(servers, "worker", topic, timeout_s=1)  # no such topic yet
    create_topics(servers, {topic: 2})
    producer = Producer({"bootstrap.servers": servers})
    for i in range(5):  # one producer batch per partition: tansu's high watermark counts it as one
        producer.produce(topic, f"alert {i}".encode(), partition=i % 2)
    producer.flush(10)
    assert not wait_for_group(servers, "worker", topic, timeout_s=1)  # nothing consumed

    source = KafkaSource([topic], bootstrap_servers=servers, group_id="worker", idle_timeout_s=2,
                         settings=FAST_CONSUMER_SETTINGS)
    messages = [message for batch in source.batches() for message in batch]
    assert len(messages) == 5
    source.commit(messages[:-1])
    assert not wait_for_group(servers, "worker", topic, timeout_s=1)  # one is not done yet
    source.commit(messages[-1:])
    source.close()
    assert wait_for_group(servers, "worker", topic, timeout_s=10)


def processes_mentioning(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if text in line and "ps -eo" not in line]


@pytest.mark.kafka
def test_the_demo_brings_up_the_whole_chain_and_stops_everything_it_started(tmp_path):
    env = {**os.environ, "EXAMPLE_TOM_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the demo's TOM uses its own settings and database
    result = subprocess.run(
        [sys.executable, "-m", "example_tom.demo", "--alerts", "100", "--rubin-alerts", "25", "--check", "120"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=280)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "login: demo / alerce-demo" in output
    (count,) = re.findall(r"check: (\d+) TOM targets with classifications", output)
    assert int(count) > 0
    assert "[demo] stopped" in output
    (kafka,) = re.findall(r"Kafka \(tansu, memory only\) at (\S+)", output)
    assert processes_mentioning(str(tmp_path)) == []  # worker, API, listener and TOM are gone
    assert processes_mentioning(f"tcp://{kafka}") == []  # and so is the broker
