"""Issue 13, acceptance 3: a simulated Rubin night streams through tansu, the worker and the
TOM listener, and becomes targets with u-y photometry and Rubin classifications, once.

The ZTF version is test_stream_kafka.py; this one reuses its helpers. The worker runs the
shipped classifiers (ZTF's and Rubin's): only Rubin's may answer for these alerts.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from classifier_service.classifiers.rubin_lc_classifier import NAME, TOP_NAME
from classifier_service.classifiers.rubin_stamp_classifier import NAME as STAMP_NAME
from classifier_service.simulate.rubin import simulate_rubin_alerts
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from tests.plugin.test_stream_kafka import listen, new_topics, produce, tom_state, work

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def run_worker(bootstrap: str, raw: str, classified: str, store: Path) -> None:
    """``alerce-classifier run`` with every shipped classifier, until it is done with the topic."""
    work([sys.executable, "-m", "classifier_service.cli", "--log-level", "WARNING", "run",
          "--bootstrap-servers", bootstrap, "--topic", raw, "--output-topic", classified,
          "--db", f"sqlite:///{store}", "--fast-group"], bootstrap, raw, 120)


def test_a_rubin_night_becomes_tom_targets_with_six_bands_and_rubin_classes_exactly_once(tansu, tmp_path):
    from tom_alerce.models import TargetClassification

    payloads = list(simulate_rubin_alerts(60, seed=4))
    alerts = [parse_record(record) for payload in payloads for record in iter_records(payload)]
    oids = {alert.oid for alert in alerts}
    classifiable = {alert.oid for alert in alerts if len(alert.detections) >= 6}
    raw, classified = new_topics(tansu.bootstrap_servers, "lsst-raw", "classified")
    produce(tansu.bootstrap_servers, raw, payloads)
    run_worker(tansu.bootstrap_servers, raw, classified, tmp_path / "store.sqlite3")
    report = listen(tansu.bootstrap_servers, classified, "tom")

    assert report.bad_messages == 0
    assert set(Target.objects.values_list("name", flat=True)) == oids
    bands = set(PhotometryReducedDatum.objects.values_list("bandpass", flat=True))
    assert bands == {"u", "g", "r", "i", "z", "y"}
    assert set(PhotometryReducedDatum.objects.values_list("telescope", flat=True)) == {"Rubin"}
    classified_by = set(TargetClassification.objects.values_list("classifier_name", flat=True))
    assert classified_by == {NAME, TOP_NAME, STAMP_NAME}  # no ZTF model answered for a Rubin alert
    by_light_curve = set(TargetClassification.objects.filter(classifier_name=NAME).values_list("target__name", flat=True))
    assert by_light_curve == classifiable and classifiable
    by_stamps = set(TargetClassification.objects.filter(classifier_name=STAMP_NAME).values_list("target__name", flat=True))
    assert by_stamps == oids  # every object's first alert came with its cutouts
    state = tom_state(), TargetClassification.objects.count()

    produce(tansu.bootstrap_servers, raw, payloads)  # the same night again, end to end
    run_worker(tansu.bootstrap_servers, raw, classified, tmp_path / "store.sqlite3")
    replay = listen(tansu.bootstrap_servers, classified, "tom")
    assert replay.changed == 0
    assert (tom_state(), TargetClassification.objects.count()) == state
