"""The Kafka source and sink, and the classified stream's wire format."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from datetime import date
from importlib import resources

import fastavro
import numpy as np
import pytest

from alerce_contract.classified import SCHEMA_RESOURCE, ClassifiedDecodeError, decode_classified, encode_classified
from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.lightcurve.model import LightCurve
from classifier_service.stream.base import ClassifiedAlert, DeadLetter, RawMessage
from classifier_service.stream.classified import classified_record
from classifier_service.stream.consumer import KafkaSource, KafkaUnavailable, commit_offsets, env_options, parse_options
from classifier_service.stream.kafka import KafkaDeliveryError, KafkaSink, create_topics, date_range, expand_topics
from classifier_service.stream.tansu import FAST_CONSUMER_SETTINGS


def classified_alert(oid: str = "ZTF20abcdefg", candid: int = 1234567890123, **fields) -> ClassifiedAlert:
    return ClassifiedAlert(
        oid=oid, candid=candid, survey="ZTF", ra=150.1, dec=2.2, mjd=59000.5, fid=2,
        magpsf=18.3, sigmapsf=0.05, ndet=2, firstmjd=58990.5, lastmjd=59000.5,
        classifications=[ClassifierOutput("stamp_classifier", "1.0.0", {"SN": 0.7, "AGN": 0.3})], **fields,
    )


def lightcurve() -> LightCurve:
    return LightCurve(
        oid="ZTF20abcdefg", mjd=np.array([58990.5, 59000.5]), fid=np.array([1, 2], dtype=np.int8),
        magpsf=np.array([18.9, 18.3]), sigmapsf=np.array([0.1, 0.05]),
        isdiffpos=np.array([1, -1], dtype=np.int8), magpsf_corr=np.array([17.5, np.nan]),
        sigmapsf_corr=np.array([0.02, np.nan]), sigmapsf_corr_ext=np.array([0.03, np.nan]),
        corrected=np.array([True, False]), dubious=np.array([False, False]),
        nd_mjd=np.array([58980.5]), nd_fid=np.array([1], dtype=np.int8), nd_diffmaglim=np.array([20.1]),
    )


# --- the wire format -----------------------------------------------------------------------

def test_classified_alert_round_trips_with_the_contract_keys():
    record = decode_classified(encode_classified(classified_record(classified_alert(), lightcurve())))
    assert set(record) == {
        "objectId", "candid", "survey", "ra", "dec", "mjd", "fid", "magpsf", "sigmapsf", "ndet",
        "firstmjd", "lastmjd", "classifications", "detections", "non_detections", "ssnamenr", "ssdistnr",
    }
    assert record["objectId"] == "ZTF20abcdefg" and record["candid"] == 1234567890123
    assert record["classifications"] == {
        "stamp_classifier": {"version": "1.0.0", "probabilities": {"SN": 0.7, "AGN": 0.3}},
    }
    assert record["non_detections"] == [{"mjd": 58980.5, "fid": 1, "diffmaglim": 20.1}]


def test_uncorrected_magnitudes_travel_as_null_not_nan():
    detections = decode_classified(encode_classified(classified_record(classified_alert(), lightcurve())))["detections"]
    assert [d["magpsf_corr"] for d in detections] == [17.5, None]
    assert [d["isdiffpos"] for d in detections] == [1, -1]


def test_an_alert_without_light_curve_has_empty_history():
    record = decode_classified(encode_classified(classified_record(classified_alert())))
    assert record["detections"] == [] and record["non_detections"] == []


@pytest.mark.parametrize("ssnamenr, ssdistnr, sent", [
    ("43769", 4.0, ("43769", 4.0)),  # ZTF18aayhyjr's asteroid, as ZTF named it
    ("null", -999.0, (None, None)),  # ZTF's placeholders: no known object near
    (None, None, (None, None)),  # a survey that says nothing
])
def test_the_known_asteroid_near_the_candidate_travels_with_ztfs_placeholders_as_null(ssnamenr, ssdistnr, sent):
    alert = classified_alert(ssnamenr=ssnamenr, ssdistnr=ssdistnr)
    record = decode_classified(encode_classified(classified_record(alert)))
    assert (record["ssnamenr"], record["ssdistnr"]) == sent


def schema_before_solar_system_fields() -> dict:
    """The classified-alert schema as it was before ssnamenr and ssdistnr were added."""
    schema = json.loads(resources.files("alerce_contract").joinpath(SCHEMA_RESOURCE).read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in ("ssnamenr", "ssdistnr")]
    return schema


def test_a_payload_written_before_the_solar_system_fields_decodes_with_them_null():
    record = classified_record(classified_alert(ssnamenr="43769", ssdistnr=4.0), lightcurve())
    old = {k: v for k, v in record.items() if k not in ("ssnamenr", "ssdistnr")}
    payload = io.BytesIO()
    fastavro.writer(payload, fastavro.parse_schema(schema_before_solar_system_fields()), [old])
    assert decode_classified(payload.getvalue()) == {**old, "ssnamenr": None, "ssdistnr": None}


def test_garbage_is_a_clear_decode_error():
    with pytest.raises(ClassifiedDecodeError):
        decode_classified(b"not avro at all")


# --- configuration -------------------------------------------------------------------------

def test_kafka_options_are_key_value_pairs():
    assert parse_options(["security.protocol=SASL_SSL", "sasl.password=a=b"]) == {
        "security.protocol": "SASL_SSL", "sasl.password": "a=b",
    }
    with pytest.raises(ValueError):
        parse_options(["no-equals-sign"])


def test_environment_variables_name_librdkafka_settings():
    environ = {"ALERCE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "ALERCE_KAFKA_SSL_KEY__ID": "x",
               "ALERCE_DB": "ignored"}
    assert env_options(environ) == {"sasl.mechanism": "SCRAM-SHA-512", "ssl.key_id": "x"}


def test_daily_ztf_topics_cover_a_date_range():
    dates = date_range("20240229:20240302")
    assert expand_topics(["ztf_{date}_programid1", "extra"], dates) == [
        "ztf_20240229_programid1", "ztf_20240301_programid1", "ztf_20240302_programid1", "extra",
    ]
    assert date_range("today", today=date(2025, 1, 2)) == [date(2025, 1, 2)]
    with pytest.raises(ValueError):
        date_range("20240302:20240301")


def test_commit_marks_one_past_the_last_offset_of_each_partition():
    batch = [RawMessage(b"", "t/0/5", "t", 0, 5), RawMessage(b"", "t/1/2", "t", 1, 2),
             RawMessage(b"", "t/0/7", "t", 0, 7)]
    assert [(tp.topic, tp.partition, tp.offset) for tp in commit_offsets(batch)] == [("t", 0, 8), ("t", 1, 3)]


# --- against the loopback broker ----------------------------------------------------------

def topic_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(broker, name: str, partitions: int = 1) -> None:
    create_topics(broker.bootstrap_servers, {name: partitions})


def produce(broker, topic: str, values: list[bytes]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(10) == 0


def read_one(broker, topic: str):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": topic_name("reader")})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])  # no group join: quicker
    try:
        [message] = consumer.consume(1, timeout=15)
        return message
    finally:
        consumer.close()


def source(broker, topic: str, group: str, **kw) -> KafkaSource:
    return KafkaSource([topic], bootstrap_servers=broker.bootstrap_servers, group_id=group,
                       idle_timeout_s=1.5, settings=FAST_CONSUMER_SETTINGS, **kw)


@pytest.mark.kafka
def test_sink_publishes_classified_alerts_keyed_by_oid_and_dead_letters_with_headers(tansu):
    out, dead = topic_name("classified"), topic_name("dead")
    create_topic(tansu, out)
    create_topic(tansu, dead)
    sink = KafkaSink(out, bootstrap_servers=tansu.bootstrap_servers, dead_letter_topic=dead)
    letter = DeadLetter(source="a.avro", stage="parse", reason="no candidate", payload=b"\x00raw", candid=7)
    sink.publish([classified_alert()], [letter])
    sink.flush()
    sink.close()

    message = read_one(tansu, out)
    assert message.key() == b"ZTF20abcdefg"
    assert decode_classified(message.value())["candid"] == 1234567890123
    message = read_one(tansu, dead)
    assert message.value() == b"\x00raw"
    assert dict(message.headers()) == {"stage": b"parse", "reason": b"no candidate", "source": b"a.avro",
                                       "payload_size": b"4", "candid": b"7",
                                       "payload_sha256": hashlib.sha256(b"\x00raw").hexdigest().encode()}


@pytest.mark.kafka
def test_a_dead_letter_over_the_message_limit_goes_as_a_reference_and_one_refused_to_a_spill_file(
        tansu, tmp_path):
    out, dead = topic_name("classified"), topic_name("dead")
    create_topics(tansu.bootstrap_servers, {out: 1, dead: 1})
    spill = tmp_path / "spill.jsonl"
    big = DeadLetter(source="t/0/1", stage="decode", reason="corrupt", payload=b"x" * 1_500_000)
    sink = KafkaSink(out, bootstrap_servers=tansu.bootstrap_servers, dead_letter_topic=dead, spill_path=spill)
    sink.publish([], [big])
    sink.flush()
    message = read_one(tansu, dead)
    headers = dict(message.headers())
    assert message.value() in (None, b"") and headers["payload"].startswith(b"omitted")
    assert headers["payload_size"] == b"1500000"
    assert headers["payload_sha256"] == hashlib.sha256(big.payload).hexdigest().encode()

    strict = KafkaSink(out, bootstrap_servers=tansu.bootstrap_servers, dead_letter_topic=dead, spill_path=spill,
                       settings={"message.max.bytes": 1000})  # not even the reference fits
    strict.publish([], [DeadLetter(source="t/0/2", stage="parse", reason="r" * 1500,
                                                     payload=b"y" * 5000)])
    strict.flush()  # the batch goes on
    [line] = [json.loads(text) for text in spill.read_text().splitlines()]
    assert line["source"] == "t/0/2" and line["payload_size"] == 5000
    assert base64.b64decode(line["payload_base64"]) == b"y" * 5000


def test_flush_raises_when_delivery_fails():
    sink = KafkaSink("nowhere", bootstrap_servers="127.0.0.1:9", settings={"message.timeout.ms": 300})
    sink.publish([classified_alert()], [])
    with pytest.raises(KafkaDeliveryError):
        sink.flush()


@pytest.mark.kafka
def test_batches_are_bounded_and_only_uncommitted_ones_are_delivered_again(tansu):
    topic, group = topic_name("raw"), topic_name("group")
    create_topic(tansu, topic, partitions=2)
    produce(tansu, topic, [b"%d" % i for i in range(25)])

    crashed = source(tansu, topic, group, batch_size=10)
    batches = list(crashed.batches())
    for batch in batches[:-1]:
        crashed.commit(batch)
    crashed.close()  # the last batch never committed: as if the worker died before storing it
    assert max(len(b) for b in batches) <= 10
    assert sorted(int(m.payload) for b in batches for m in b) == list(range(25))

    survivor = source(tansu, topic, group)
    replayed = [m.payload for b in survivor.batches() for m in b]
    survivor.close()
    assert sorted(replayed) == sorted(m.payload for m in batches[-1])


@pytest.mark.kafka
def test_stop_ends_the_stream_after_the_batch_in_hand(tansu):
    topic = topic_name("raw")
    create_topic(tansu, topic)
    produce(tansu, topic, [b"a"])
    stream = source(tansu, topic, topic_name("group"))
    stream.idle_timeout_s = None
    seen = []
    for batch in stream.batches():
        seen.extend(batch)
        stream.stop()
    stream.close()
    assert [m.payload for m in seen] == [b"a"]


@pytest.mark.kafka
def test_a_slow_stream_is_handed_over_without_waiting_for_the_batch_to_fill(tansu):
    """Room for 1,000 messages and ten minutes to wait for the first (past the test's own
    timeout): the one message there comes at once, alone, after the short linger."""
    topic = topic_name("raw")
    create_topic(tansu, topic, partitions=2)
    produce(tansu, topic, [b"a"])
    stream = source(tansu, topic, topic_name("group"), batch_size=1000, batch_timeout_s=600.0, linger_s=0.05)
    batch = next(iter(stream.batches()))
    held = stream.assignment()
    stream.close()
    assert [m.payload for m in batch] == [b"a"]
    assert held == {(topic, 0), (topic, 1)}


def test_brokers_unreachable_past_the_limit_end_the_stream_with_kafka_unavailable(caplog):
    stream = KafkaSource(["raw"], bootstrap_servers="127.0.0.1:9", group_id="g", batch_timeout_s=0.2,
                         unreachable_limit_s=2.0, settings={"reconnect.backoff.max.ms": 200})
    with pytest.raises(KafkaUnavailable, match="unreachable for"):
        for _ in stream.batches():
            pass
    stream.close()
    waiting = [r.message for r in caplog.records if "unreachable" in r.message and "waiting" in r.message]
    assert len(waiting) == 1 and "\n" not in waiting[0]  # one line, repeats muted


def test_librdkafkas_own_lines_about_a_broker_that_is_down_come_once_not_once_per_try(caplog):
    """librdkafka retries a broker that is down several times a second and logs each try
    (a TOM's listener logged 500 lines in 30 s): the same line, numbers aside, comes once
    per LOG_REPEAT_S."""
    stream = KafkaSource(["raw"], bootstrap_servers="127.0.0.1:9", group_id="g", batch_timeout_s=0.2,
                         unreachable_limit_s=3.0, settings={"reconnect.backoff.max.ms": 100})
    with pytest.raises(KafkaUnavailable):
        for _ in stream.batches():
            pass
    stream.close()
    tries = [r.message for r in caplog.records if "Connect to ipv4#127.0.0.1:9 failed" in r.message]
    assert len(tries) == 2  # librdkafka's own line, and the loop's "unreachable ...; waiting"
