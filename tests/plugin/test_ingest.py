"""The one mapping from broker records to TOM fields, shared by the DataService and the listener."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from alerce_broker_plugin.ingest import BrokerObject, object_from_stream, photometry_rows, target_extras
from alerce_contract.classifications import classifications_from_probabilities
from alerce_contract.mjd import datetime_to_mjd, mjd_to_datetime


def test_mjd_converts_to_the_same_utc_instant_every_time():
    assert mjd_to_datetime(60000.5) == datetime(2023, 2, 25, 12, tzinfo=timezone.utc)
    assert mjd_to_datetime(59000.123456789) == mjd_to_datetime(59000.123456789)
    assert datetime_to_mjd(mjd_to_datetime(59000.25)) == 59000.25


def test_probability_rows_become_the_stream_shape_keeping_each_classifiers_latest_version():
    rows = [
        {"classifier_name": "lc_classifier", "classifier_version": "1.0", "class_name": "SNIa", "probability": 0.9,
         "ranking": 1},
        {"classifier_name": "lc_classifier", "classifier_version": "1.1", "class_name": "SNII", "probability": 0.7,
         "ranking": 1},
        {"classifier_name": "lc_classifier", "classifier_version": "1.1", "class_name": "SNIa", "probability": 0.3,
         "ranking": 2},
    ]
    assert classifications_from_probabilities(rows) == {
        "lc_classifier": {"version": "1.1", "probabilities": {"SNII": 0.7, "SNIa": 0.3}}}


def test_extras_hold_the_summary_and_each_classifiers_top_class():
    obj = BrokerObject(oid="ZTF1", ra=1.0, dec=2.0, ndet=4, firstmjd=59000.25, lastmjd=59010.0, classifications={
        "stamp_classifier": {"version": "1", "probabilities": {"SN": 0.812345678, "AGN": 0.187654322}}})
    assert target_extras(obj) == {"survey": "ZTF", "ndet": "4", "firstmjd": "59000.25", "lastmjd": "59010",
                                  "stamp_classifier_class": "SN", "stamp_classifier_probability": "0.8123"}


def test_photometry_keeps_detections_limits_and_measured_forced_points_only():
    obj = BrokerObject(oid="ZTF1", ra=1.0, dec=2.0,
                       detections=[{"mjd": 1.0, "fid": 1, "magpsf": 18.0, "sigmapsf": 0.1, "candid": 5},
                                   {"mjd": 2.0, "fid": 9, "magpsf": 18.0, "sigmapsf": 0.1},      # unknown filter
                                   {"mjd": 3.0, "fid": 2, "magpsf": None, "sigmapsf": None}],    # no magnitude
                       non_detections=[{"mjd": 0.5, "fid": 2, "diffmaglim": 20.1}],
                       forced_photometry=[{"mjd": 4.0, "fid": 2, "mag": 19.0, "e_mag": 0.2},
                                          {"mjd": 5.0, "fid": 2, "mag": 100.0, "e_mag": 100.0}])  # placeholder
    rows = photometry_rows(obj)
    assert [(r["bandpass"], r["brightness"], r["limit"], r["reduction_version"]) for r in rows] == [
        ("g", 18.0, None, ""), ("r", None, 20.1, ""), ("r", 19.0, None, "forced_photometry")]
    assert rows[0]["value"]["candid"] == 5


def test_a_stream_message_keeps_its_own_detection_even_without_a_light_curve():
    message = {"objectId": "ZTF1", "candid": 7, "ra": 1.0, "dec": 2.0, "mjd": 59000.0, "fid": 2,
               "magpsf": 18.5, "sigmapsf": 0.05, "ndet": 1, "classifications": {}, "detections": []}
    assert object_from_stream(message).detections == [
        {"candid": 7, "mjd": 59000.0, "fid": 2, "magpsf": 18.5, "sigmapsf": 0.05}]


def test_a_message_without_an_object_id_is_rejected():
    with pytest.raises(ValueError, match="classified-alert"):
        object_from_stream({"ra": 1.0})
