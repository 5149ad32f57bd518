"""One object's routes: what they return, in which order, and 404s for what is not there."""
from __future__ import annotations

import math

import pytest

from classifier_service.api.schemas import clean_row

OID = "ZTF17aaacxxf"  # 23 detections in g and r (ztf-avro-alert)


def test_object_has_alerce_fields_and_no_store_internals(client):
    body = client.get(f"/ztf/v1/objects/{OID}").json()
    assert {"oid", "ndet", "firstmjd", "lastmjd", "meanra", "meandec", "ndethist"} <= set(body)
    assert "survey" not in body


def test_detections_are_oldest_first_with_candid_as_string(client, real_alerts):
    detections = client.get(f"/ztf/v1/objects/{OID}/detections").json()
    expected = {d.candid for a in real_alerts if a.oid == OID for d in a.detections}
    assert {int(d["candid"]) for d in detections} == expected
    assert all(isinstance(d["candid"], str) for d in detections)
    assert [d["mjd"] for d in detections] == sorted(d["mjd"] for d in detections)
    assert "oid" not in detections[0]


def test_rows_turn_non_finite_floats_into_null_even_inside_json_columns():
    row = {"candid": 12345678901234567, "magpsf_corr": math.nan,
           "extra": {"flux": -math.inf, "ok": [1.5, math.nan]}}
    assert clean_row(row, as_string=("candid",)) == {
        "candid": "12345678901234567", "magpsf_corr": None,
        "extra": {"flux": None, "ok": [1.5, None]}}


def test_lightcurve_is_detections_plus_non_detections(client):
    lightcurve = client.get(f"/ztf/v1/objects/{OID}/lightcurve").json()
    assert lightcurve["detections"] == client.get(f"/ztf/v1/objects/{OID}/detections").json()
    assert lightcurve["non_detections"] == client.get(
        f"/ztf/v1/objects/{OID}/non_detections").json()
    assert set(lightcurve["non_detections"][0]) == {"mjd", "fid", "diffmaglim"}


def test_probabilities_filter_by_classifier_and_version(client):
    everything = client.get(f"/ztf/v1/objects/{OID}/probabilities").json()
    assert {p["classifier_name"] for p in everything} == {
        "stamp_classifier", "lc_classifier", "lc_classifier_top"}
    stamp = client.get(f"/ztf/v1/objects/{OID}/probabilities", params={
        "classifier": "stamp_classifier", "classifier_version": "1.0.0"}).json()
    assert [p["ranking"] for p in stamp] == [1, 2, 3, 4, 5]
    probabilities = [p["probability"] for p in stamp]
    assert probabilities == sorted(probabilities, reverse=True)


def test_features_filter_by_name_fid_and_version(client):
    everything = client.get(f"/ztf/v1/objects/{OID}/features").json()
    classifier_features = {(f["name"], f["fid"]) for f in everything if f["version"] != "ps1_ztf"}
    assert classifier_features == {("Amplitude", 1), ("Amplitude", 2), ("n_det", 0)}
    host_hints = {f["name"] for f in everything if f["version"] == "ps1_ztf"}
    assert {"sgscore1", "distpsnr1"} <= host_hints
    amplitude_r = client.get(f"/ztf/v1/objects/{OID}/features/Amplitude", params={"fid": 2}).json()
    assert len(amplitude_r) == 1 and amplitude_r[0]["fid"] == 2
    assert client.get(f"/ztf/v1/objects/{OID}/features", params={"version": "other"}).json() == []


def test_magstats_one_row_per_band(client):
    magstats = client.get(f"/ztf/v1/objects/{OID}/magstats").json()
    assert [m["fid"] for m in magstats] == [1, 2]
    assert sum(m["ndet"] for m in magstats) == 23


@pytest.mark.parametrize("suffix", ["", "/lightcurve", "/detections", "/non_detections",
                                    "/magstats", "/probabilities", "/features",
                                    "/features/Amplitude"])
def test_unknown_object_is_404_with_a_message(client, suffix):
    response = client.get(f"/ztf/v1/objects/ZTF99zzzzzzz{suffix}")
    assert response.status_code == 404
    assert response.json()["detail"] == "Object ZTF99zzzzzzz not found"


def test_overlong_oid_is_400(client):
    response = client.get(f"/ztf/v1/objects/{'Z' * 40}")
    assert response.status_code == 400 and "oid" in response.json()["detail"]


def test_unknown_classifier_version_classes_is_404(client):
    response = client.get("/ztf/v1/classifiers/stamp_classifier/0.0.0/classes")
    assert response.status_code == 404
    assert "stamp_classifier version 0.0.0 not found" in response.json()["detail"]


def test_the_api_is_read_only(client):
    assert client.post("/ztf/v1/objects").status_code == 405
    assert client.delete(f"/ztf/v1/objects/{OID}").status_code == 405
