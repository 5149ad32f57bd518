"""The live listener: classified-stream messages into TOM targets, lists, photometry and hooks."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.db import OperationalError

from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target, TargetList

from alerce_broker_plugin import ingest
from alerce_broker_plugin.stream import BadMessage, ClassifiedAlertStream, ListenReport
from alerce_contract.classified import encode_classified
from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.lightcurve import build_lightcurve
from classifier_service.stream.base import ClassifiedAlert, RawMessage
from classifier_service.stream.classified import classified_record
from classifier_service.stream.consumer import Backoff
from tests.plugin.alerce_standin import load_alerts

pytestmark = pytest.mark.django_db

HOOK_CALLS: list[dict] = []
SN_FILTER = {"name": "SN candidates", "classifier": "stamp_classifier", "class_name": "SN", "min_probability": 0.5}


def record_hook(**kwargs) -> None:
    """The test TOM's ``alerce_alert_received`` hook."""
    HOOK_CALLS.append(kwargs)


@pytest.fixture(autouse=True)
def hooks(tom_settings):
    HOOK_CALLS.clear()
    tom_settings.HOOKS = {**tom_settings.HOOKS,
                          "alerce_alert_received": "tests.plugin.test_stream_listener.record_hook"}


@pytest.fixture(scope="module")
def real_alerts(shared_data: Path):
    return load_alerts(shared_data)


def classified_payload(alert, stamp_class: str = "SN", probability: float = 0.8) -> bytes:
    """A classified-stream message for a real alert, as classifier_service publishes it."""
    lightcurve = build_lightcurve(alert.oid, alert.detections, alert.non_detections, alert.metadata)
    others = (1.0 - probability) / 4
    probabilities = {c: (probability if c == stamp_class else others) for c in ("SN", "AGN", "VS", "asteroid", "bogus")}
    dets = alert.detections
    classified = ClassifiedAlert(
        oid=alert.oid, candid=alert.candid, survey="ZTF", ra=alert.candidate.ra, dec=alert.candidate.dec,
        mjd=alert.candidate.mjd, fid=alert.candidate.fid, magpsf=alert.candidate.magpsf,
        sigmapsf=alert.candidate.sigmapsf, ndet=len(dets), firstmjd=dets[0].mjd, lastmjd=dets[-1].mjd,
        classifications=[ClassifierOutput("stamp_classifier", "1.0.0", probabilities)])
    return encode_classified(classified_record(classified, lightcurve))


def listener(**options) -> ClassifiedAlertStream:
    return ClassifiedAlertStream(BOOTSTRAP_SERVERS="127.0.0.1:1", TOPIC="classified", **options)


def test_an_alert_passing_a_filter_becomes_a_listed_target_with_photometry_and_classifications(real_alerts):
    from tom_alerce.models import TargetClassification

    alert = real_alerts[0]
    outcome = listener(FILTERS=[SN_FILTER]).handle_payload(classified_payload(alert), "kafka://classified/0/7")
    target = Target.objects.get(name=alert.oid)
    assert outcome.created and outcome.matched == ["SN candidates"]
    assert list(TargetList.objects.get(name="ALeRCE: SN candidates").targets.all()) == [target]
    photometry = PhotometryReducedDatum.objects.filter(target=target)
    assert photometry.filter(brightness__isnull=False).count() == len(alert.detections)
    assert photometry.filter(limit__isnull=False).count() == len(alert.non_detections)
    assert {p.source_location for p in photometry} == {"kafka://classified/0/7"}
    assert TargetClassification.objects.get(target=target, ranking=1).class_name == "SN"
    extras = dict(target.targetextra_set.values_list("key", "value"))
    assert (extras["stamp_classifier_class"], extras["stamp_classifier_probability"]) == ("SN", "0.8")
    assert [call["target"] for call in HOOK_CALLS] == [target]
    assert HOOK_CALLS[0]["created"] and HOOK_CALLS[0]["filters"] == ["SN candidates"]


def test_the_same_alert_twice_changes_nothing_and_fires_no_second_hook(real_alerts):
    stream = listener(FILTERS=[SN_FILTER])
    payload = classified_payload(real_alerts[1])
    stream.handle_payload(payload)
    target = Target.objects.get(name=real_alerts[1].oid)
    before = (target.modified, PhotometryReducedDatum.objects.count())
    again = stream.handle_payload(payload)
    target.refresh_from_db()
    assert not again.changed and len(HOOK_CALLS) == 1
    assert (target.modified, PhotometryReducedDatum.objects.count()) == before


def test_a_new_classification_of_a_known_target_is_recorded_and_announced(real_alerts):
    stream = listener()
    stream.handle_payload(classified_payload(real_alerts[2], "SN", 0.8))
    outcome = stream.handle_payload(classified_payload(real_alerts[2], "AGN", 0.9))
    assert outcome.changed and not outcome.created and len(HOOK_CALLS) == 2
    extras = dict(Target.objects.get(name=real_alerts[2].oid).targetextra_set.values_list("key", "value"))
    assert extras["stamp_classifier_class"] == "AGN"


def test_alerts_that_pass_no_filter_are_left_out(real_alerts):
    outcome = listener(FILTERS=[SN_FILTER]).handle_payload(classified_payload(real_alerts[3], "VS", 0.9))
    assert outcome.matched == [] and not Target.objects.exists() and not HOOK_CALLS


def test_without_filters_the_listener_leaves_bogus_detections_out_and_an_empty_list_keeps_all(real_alerts):
    bogus = classified_payload(real_alerts[3], "bogus", 0.9)
    assert listener().handle_payload(bogus).matched == [] and not Target.objects.exists()
    assert listener().handle_payload(classified_payload(real_alerts[4], "SN", 0.6)).matched == ["real sources"]
    assert listener(FILTERS=[]).handle_payload(bogus).created


@pytest.mark.parametrize("payload", [b"", b"not avro at all", None])
def test_an_unreadable_message_is_a_bad_message(payload):
    with pytest.raises(BadMessage):
        listener().handle_payload(payload, "kafka://classified/0/1")


def kafka_message(payload: bytes) -> RawMessage:
    return RawMessage(payload, "classified/0/42", "classified", 0, 42)


def test_a_failing_database_is_retried_until_the_alert_is_stored(real_alerts, monkeypatch):
    real_ingest, failures = ingest.ingest_object, []

    def flaky_ingest(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("database is locked")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(ingest, "ingest_object", flaky_ingest)
    stream, report = listener(), ListenReport()
    committable = stream._process(kafka_message(classified_payload(real_alerts[4])), report, Backoff(0.01, 0.01))
    assert committable and len(failures) == 2 and report.changed == 1
    assert Target.objects.filter(name=real_alerts[4].oid).exists()


def test_a_bad_message_is_skipped_and_may_be_committed():
    report = ListenReport()
    assert listener()._process(kafka_message(b"garbage"), report, Backoff(0.01, 0.01))
    assert report.bad_messages == 1


def test_misconfigured_filters_stop_the_stream_at_startup():
    with pytest.raises(ValueError):
        listener(FILTERS=[{"name": "x", "class_name": "SN"}])


def test_readstreams_builds_the_listener_from_alert_streams_settings():
    from tom_alertstreams.alertstreams.alertstream import get_alert_streams

    (stream,) = get_alert_streams([{"NAME": "alerce_broker_plugin.stream.ClassifiedAlertStream", "OPTIONS": {
        "BOOTSTRAP_SERVERS": "kafka:9092", "TOPIC": "classified", "GROUP_ID": "my-tom", "FILTERS": [SN_FILTER]}}])
    assert stream.consumer_settings()["group.id"] == "my-tom"
    assert stream.consumer_settings()["enable.auto.commit"] is False
    assert [f.name for f in stream.alert_filters] == ["SN candidates"]
