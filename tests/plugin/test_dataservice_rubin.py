"""Rubin objects through the data service and the SN Hunter, against our own stack: a simulated
Rubin night goes through tansu and the worker (``alerce-classifier run``, every shipped
classifier) into a store, ``serve``'s app answers over that store (its LSST routes), and the
TOM's listener reads the classified topic.

Data Services with Survey LSST asks ``list_objects``; Create Targets imports a Rubin object as
the listener stores the same object (extras, photometry in Rubin's bands, classifications),
with its discovery cutouts from the LSST stamp route besides; the SN Hunter finds Rubin
candidates on the LSST route and in the TOM.
"""
from __future__ import annotations

import json
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.urls import reverse
from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_targets.models import Target

from alerce_broker_plugin.config import SERVICE_NAME
from alerce_contract.client import AlerceBadResponse, AlerceClient, AlerceConfig, AlerceNotFound
from alerce_contract.bands import SURVEY_FIDS, BAND_OF_FID
from alerce_contract.mjd import now_mjd
from alerce_contract.names import survey_of_oid
from alerce_contract.taxonomy import LC_CLASSIFIER_LSST, SN_CLASS, STAMP_CLASSIFIER, STAMP_CLASSIFIER_LSST
from classifier_service.api import create_app
from classifier_service.simulate.rubin import simulate_rubin_alerts
from tests.api.api_live import serve_app
from tests.plugin.test_stream_kafka import listen, new_topics, produce, work
from tests.realstack import last_night

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

# Supernovae first (the SN Hunter's subject), some periodic stars and quasars beside them.
NIGHT_MIX = {"SNIa": 0.4, "SNII": 0.3, "RRL": 0.15, "QSO": 0.15}
RUBIN_BANDS = {BAND_OF_FID[fid] for fid in SURVEY_FIDS["LSST"]}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class RubinNight:
    bootstrap: str
    classified: str  # the topic the worker published the classified alerts to
    store: Path


@pytest.fixture(scope="module")
def rubin_night(tansu, tmp_path_factory) -> RubinNight:
    """Last night's simulated Rubin alerts, classified by ``alerce-classifier run`` into a store
    and onto the classified topic (once for the module: the worker is the slow part)."""
    payloads = list(simulate_rubin_alerts(40, seed=2, start_mjd=last_night(now_mjd()), class_mix=NIGHT_MIX))
    raw, classified = new_topics(tansu.bootstrap_servers, "lsst-raw", "classified")
    produce(tansu.bootstrap_servers, raw, payloads)
    store = tmp_path_factory.mktemp("rubin_store") / "store.sqlite3"
    work([sys.executable, "-m", "classifier_service.cli", "--log-level", "WARNING", "run",
          "--bootstrap-servers", tansu.bootstrap_servers, "--topic", raw, "--output-topic", classified,
          "--db", f"sqlite:///{store}", "--fast-group"], tansu.bootstrap_servers, raw, 120)
    return RubinNight(tansu.bootstrap_servers, classified, store)


@pytest.fixture(scope="module")
def rubin_api(rubin_night) -> str:
    """``serve``'s app over the night's store."""
    app = create_app(f"sqlite:///{rubin_night.store}")
    with contextmanager(serve_app)(app) as url:
        yield url
    app.state.engine.dispose()


@pytest.fixture
def observer(rubin_api, tom_settings, client, django_user_model):
    """A logged-in observer of a TOM whose broker is our API."""
    tom_settings.DATA_SERVICES = {SERVICE_NAME: {"api_url": rubin_api}}
    user = django_user_model.objects.create_superuser("observer", "observer@example.org", "pw")
    client.force_login(user)
    return user


def listener_stores(night: RubinNight) -> None:
    """The TOM's listener reads the whole classified topic (a group of its own)."""
    report = listen(night.bootstrap, night.classified, f"tom-{uuid.uuid4().hex[:6]}")
    assert report.messages > 0 and report.bad_messages == 0


def lsst_objects(api_url: str, **params) -> list[dict]:
    """What ALeRCE's LSST route itself lists."""
    answer = requests.get(f"{api_url}/object_api/list_objects",
                          params={"survey": "lsst", "page_size": 100, **params}, timeout=10)
    answer.raise_for_status()
    return answer.json()["items"]


def query(client, **fields):
    """Data Services -> ALeRCEBroker: submit the query form; the response after its redirect."""
    return client.post(reverse("tom_dataservices:create"),
                       {"data_service": SERVICE_NAME, "order_mode": "DESC", "max_results": 100, **fields}, follow=True)


def what_the_tom_holds(target: Target) -> dict:
    """A target's extras, detections (band, time, magnitude, telescope, the alert's fields) and
    classifications: what the listener and the data service must agree on, each detection's
    candid included (the classified stream's light-curve rows carry it, as the API does)."""
    from tom_alerce.models import TargetClassification

    detections = PhotometryReducedDatum.objects.filter(target=target, brightness__isnull=False, reduction_version="")
    rows = sorted(detections.values_list("bandpass", "timestamp", "brightness", "brightness_error",
                                         "telescope", "instrument", "value"), key=lambda row: row[:2])
    return {
        "extras": dict(target.targetextra_set.values_list("key", "value")),
        "detections": [(*row[:3], *row[4:6], json.dumps(row[6], sort_keys=True)) for row in rows],
        "errors": [row[3] for row in rows],
        "classifications": sorted(TargetClassification.objects.filter(target=target).values_list(
            "classifier_name", "classifier_version", "class_name", "ranking", "probability")),
    }


def test_a_survey_lsst_query_by_classifier_class_and_detections_lists_what_the_lsst_route_lists(observer, client,
                                                                                                rubin_api):
    response = query(client, survey="LSST", classifier=STAMP_CLASSIFIER_LSST, class_name=SN_CLASS, ndet_min=2)

    results = response.context["results"]
    expected = lsst_objects(rubin_api, classifier=STAMP_CLASSIFIER_LSST, class_name=SN_CLASS, n_det=[2])
    assert results and {r["oid"] for r in results} == {str(item["oid"]) for item in expected}
    assert all(r["survey"] == "LSST" and r["ndet"] >= 2 and r["class"] == SN_CLASS for r in results)
    assert all(r[f"{STAMP_CLASSIFIER_LSST}_class"] == SN_CLASS for r in results)  # the survey's own result columns
    assert any(r[f"{LC_CLASSIFIER_LSST}_class"] for r in results)
    page = response.content.decode()
    assert f"{len(results)} of {len(expected)} matching LSST objects" in page and results[0]["oid"] in page


def test_an_lsst_list_without_a_classifier_labels_each_object_with_rubins_own_models(rubin_api):
    items = lsst_objects(rubin_api)
    # ALeRCE's rule: the default classifier's top class, null where it has not answered (too few detections)
    assert {item["classifier_name"] for item in items} == {LC_CLASSIFIER_LSST, None}
    assert any(item["class_name"] for item in items)


def test_the_lsst_routes_fail_with_the_clients_typed_errors(rubin_api):
    client = AlerceClient(AlerceConfig(api_url=rubin_api, retries=0))
    with pytest.raises(AlerceNotFound, match="object_api/object"):
        client.query_object("123456789")  # a Rubin oid the broker does not know
    with pytest.raises(AlerceBadResponse, match="unknown classifier"):
        client.query_objects({"classifier": "no_such_classifier"}, survey="LSST")
    with pytest.raises(ValueError, match="measurement_id"):
        client.get_stamp("123456789", None, "science")  # a Rubin stamp is named by its detection


def test_the_form_offers_each_surveys_classifiers_and_refuses_a_ztf_classifier_for_lsst(observer, client):
    form = client.get(reverse("tom_dataservices:create"), {"data_service": SERVICE_NAME}).context["form"]
    groups = dict(form.fields["classifier"].choices[1:])
    assert STAMP_CLASSIFIER_LSST in dict(groups["LSST"]) and STAMP_CLASSIFIER in dict(groups["ZTF"])

    response = query(client, survey="LSST", classifier=STAMP_CLASSIFIER, class_name=SN_CLASS)
    (error,) = response.context["form"].errors["classifier"]
    assert error.startswith(f"{STAMP_CLASSIFIER} classifies ZTF objects, not LSST ones")


def test_create_targets_imports_a_rubin_object_as_the_listener_stores_it_with_its_stamps(rubin_night, observer,
                                                                                         client, rubin_api):
    listener_stores(rubin_night)
    oid = str(lsst_objects(rubin_api, classifier=LC_CLASSIFIER_LSST, order_by="n_det")[0]["oid"])
    by_listener = what_the_tom_holds(Target.objects.get(name=oid))
    Target.objects.filter(name=oid).delete()

    results = query(client, survey="LSST", oid=oid).context["results"]
    assert [r["oid"] for r in results] == [oid]
    client.post(reverse("tom_dataservices:create-target"),
                {"query_id": "", "data_service": SERVICE_NAME, "selected_results": ["0"]})

    target = Target.objects.get(name=oid)
    by_data_service = what_the_tom_holds(target)
    errors, listener_errors = by_data_service.pop("errors"), by_listener.pop("errors")
    assert by_data_service == by_listener
    assert errors == pytest.approx(listener_errors, rel=1e-12)  # flux errors back to magnitudes
    assert by_data_service["extras"]["survey"] == "LSST"
    bands = {row[0] for row in by_data_service["detections"]}
    assert bands <= RUBIN_BANDS and len(bands) > 1
    assert {row[3:5] for row in by_data_service["detections"]} == {("Rubin", "LSSTCam")}
    cutouts = DataProduct.objects.filter(target=target, data_product_type="image_file")
    assert cutouts.count() == 3 and all(product.data.read(8) == PNG_MAGIC for product in cutouts)
    forced = requests.get(f"{rubin_api}/lightcurve_api/forced-photometry",
                          params={"oid": oid, "survey_id": "lsst"}, timeout=10).json()
    stored_forced = PhotometryReducedDatum.objects.filter(target=target, reduction_version="forced_photometry")
    assert stored_forced.count() == sum(1 for epoch in forced if (epoch["psfFlux"] or 0) > 0)


def test_the_sn_hunter_lists_rubin_candidates_from_the_api_and_the_tom_with_lsst_stamps(rubin_night, observer,
                                                                                        client, rubin_api):
    listener_stores(rubin_night)
    response = client.get(reverse("tom_alerce:sn-hunter-candidates"), {"hours": 720, "limit": 200})

    assert response.context["api_error"] is None
    rubin = [c for c in response.context["candidates"] if survey_of_oid(c.oid) == "LSST"]
    assert rubin and all(c.sources == ("api", "tom") for c in rubin)
    assert "api + tom" in response.content.decode()
    candidate = rubin[0]
    assert candidate.first_detection["band"] in RUBIN_BANDS and candidate.stamp_probabilities[SN_CLASS] >= 0.5
    assert candidate.target_id == Target.objects.get(name=candidate.oid).pk
    assert not DataProduct.objects.filter(target_id=candidate.target_id).exists()  # the listener stores no stamps
    for url in candidate.stamps.values():  # so they come from the LSST stamp route
        stamp = client.get(url)
        assert stamp.status_code == 200 and stamp.content.startswith(PNG_MAGIC)
