"""The DataService against a loopback stand-in of the public ALeRCE API (acceptance 2, public half).

The test TOM goes through tom_dataservices' own views and management commands, so what is
tested is what an observer clicks: query form, results table, "create targets", saved
queries (``rundataquery``) and refreshes (``updatereduceddata``).
"""
from __future__ import annotations

import pytest
import requests
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_dataservices.models import DataServiceQuery
from tom_targets.models import Target, TargetName

from alerce_contract.client import AlerceApiError
from alerce_broker_plugin.config import SERVICE_NAME
from alerce_broker_plugin.dataservice import AlerceBrokerDataService
from alerce_broker_plugin.forms import AlerceBrokerQueryForm

pytestmark = pytest.mark.django_db


def form_data(**fields) -> dict:
    return {"data_service": SERVICE_NAME, "order_mode": "DESC", **fields}


def run_query(**fields) -> list[dict]:
    service = AlerceBrokerDataService()
    form = AlerceBrokerQueryForm(data=form_data(**fields))
    assert form.is_valid(), form.errors
    return service.query_targets(service.build_query_parameters(form.cleaned_data))


def a_saved_query(**fields) -> DataServiceQuery:
    form = AlerceBrokerQueryForm(data=form_data(query_name="saved", **fields))
    assert form.is_valid(), form.errors
    return form.save()


def test_the_form_names_the_broker_it_asks_and_asks_no_other(public_alerce):
    assert AlerceBrokerQueryForm().fields["classifier"].help_text == f"Classifiers of {public_alerce.url}"
    assert public_alerce.requests == ["/ztf/v1/classifiers"]


def test_form_offers_the_brokers_classifiers_by_survey_and_asks_for_them_once(public_alerce):
    first = AlerceBrokerQueryForm()
    AlerceBrokerQueryForm()
    assert ("stamp_classifier", "stamp_classifier") in dict(first.fields["classifier"].choices)["ZTF"]
    assert "LSST" not in dict(first.fields["classifier"].choices)  # public ALeRCE's list names ZTF's only
    assert public_alerce.requests.count("/ztf/v1/classifiers") == 1


def test_form_rejects_a_class_the_classifier_does_not_have(public_alerce):
    form = AlerceBrokerQueryForm(data=form_data(classifier="stamp_classifier", class_name="SNIa"))
    assert not form.is_valid()
    assert "class_name" in form.errors


def test_form_still_builds_when_the_broker_is_down(public_alerce):
    public_alerce.faults["/ztf/v1/classifiers"] = "500"
    form = AlerceBrokerQueryForm()
    assert form.fields["classifier"].choices == [("", "")]
    assert "unavailable" in form.fields["classifier"].help_text


def test_query_walks_alerces_pages_up_to_max_results(public_alerce, standin_objects, tom_settings):
    tom_settings.DATA_SERVICES[SERVICE_NAME]["page_size"] = 4
    results = run_query(max_results=10)
    assert len(results) == 10
    assert len({r["oid"] for r in results}) == 10
    assert public_alerce.requests.count("/ztf/v1/objects") == 3 + 2  # pages 1-3, then one per result classifier


def test_query_filters_by_classifier_class_and_probability(public_alerce):
    everything = run_query(max_results=100, classifier="stamp_classifier")
    sn = run_query(max_results=100, classifier="stamp_classifier", class_name="SN", probability=0.2)
    assert sn and len(sn) < len(everything)
    assert all(r["class"] == "SN" and r["probability"] >= 0.2 for r in sn)


def test_results_show_the_stamp_and_light_curve_classes(public_alerce):
    results = run_query(max_results=5)
    for result in results:
        assert result["stamp_classifier_class"] in {"SN", "AGN", "VS", "asteroid", "bogus"}
        assert 0 < result["lc_classifier_probability"] <= 1


def test_results_page_renders_the_classes(public_alerce, client):
    session = client.session
    session["query_parameters"] = form_data(max_results=3)
    session.save()
    response = client.get(reverse("dataservices:run"))
    page = response.content.decode()
    for result in response.context["results"]:
        assert result["oid"] in page
        assert f'{result["stamp_classifier_class"]} [{result["stamp_classifier_probability"]:.3f}]' in page


def test_forced_photometry_is_stored_apart_from_alert_photometry(public_alerce, standin_objects):
    oid = next(oid for oid, obj in standin_objects.items() if obj.forced)
    forced_rows = public_alerce.objects[oid].forced
    measured = {**forced_rows[0], "mjd": forced_rows[0]["mjd"] - 1, "mag": 19.52, "e_mag": 0.08}
    forced_rows.append(measured)  # the real epochs have no flux (mag = 100, ALeRCE's placeholder)
    try:
        call_command("rundataquery", a_saved_query(oid=oid, max_results=1).id)
    finally:
        forced_rows.remove(measured)
    forced = PhotometryReducedDatum.objects.get(target__name=oid, reduction_version="forced_photometry")
    assert (forced.brightness, forced.brightness_error, forced.bandpass) == (19.52, 0.08, "gr"[measured["fid"] - 1])


def test_saved_query_reruns_with_rundataquery_and_twice_changes_nothing(public_alerce):
    query = a_saved_query(classifier="stamp_classifier", class_name="SN", max_results=3)
    call_command("rundataquery", query.id)
    counts = (Target.objects.count(), PhotometryReducedDatum.objects.count(), DataProduct.objects.count())
    assert counts[0] > 0 and counts[1] > 0
    call_command("rundataquery", query.id)
    assert (Target.objects.count(), PhotometryReducedDatum.objects.count(), DataProduct.objects.count()) == counts


def simbad_offline(*args, **kwargs):
    """tomtoolkit's Simbad service on a machine without the internet: its constructor asks
    SIMBAD's TAP server for the VOTable fields."""
    raise requests.ConnectionError("Failed to resolve 'simbad.cds.unistra.fr'")


def test_updatereduceddata_fetches_new_detections_from_the_broker(public_alerce, monkeypatch):
    # Only the services the target's data came from are built: Simbad's offline constructor is never called.
    monkeypatch.setattr("tom_dataservices.data_services.simbad.SimbadDataService.__init__", simbad_offline)
    oid = sorted(public_alerce.objects)[0]
    call_command("rundataquery", a_saved_query(oid=oid, max_results=1).id)
    target = Target.objects.get(name=oid)
    before = PhotometryReducedDatum.objects.filter(target=target).count()
    obj = public_alerce.objects[oid]
    newer = {**obj.detections[-1], "mjd": obj.detections[-1]["mjd"] + 1.0, "candid": "1", "has_stamp": False}
    obj.detections.append(newer)
    try:
        call_command("updatereduceddata", target_id=target.id)
    finally:
        obj.detections.remove(newer)
    assert PhotometryReducedDatum.objects.filter(target=target).count() == before + 1


def test_check_for_new_data_names_each_failing_service_and_still_asks_the_others(
        public_alerce, client, django_user_model, monkeypatch):
    """The target page's button: a service that fails is named with its reason on the page, the
    target's other services are still asked, and nothing is an HTTP 500."""
    monkeypatch.setattr("tom_dataservices.data_services.simbad.SimbadDataService.__init__", simbad_offline)
    oid = sorted(public_alerce.objects)[0]
    call_command("rundataquery", a_saved_query(oid=oid, max_results=1).id)
    target = Target.objects.get(name=oid)
    PhotometryReducedDatum.objects.create(target=target, source_name="Simbad", timestamp=target.created,
                                          brightness=15.0, bandpass="V")
    photometry = PhotometryReducedDatum.objects.filter(target=target).count()
    observer = django_user_model.objects.create_user("observer")
    target.give_user_access(observer)
    client.force_login(observer)
    public_alerce.faults["/ztf/v1/objects/"] = "500"
    response = client.post(reverse("dataproducts:update-reduced-data"), {"target_id": target.id},
                           HTTP_REFERER=f"/targets/{target.id}/", follow=True)
    public_alerce.faults.clear()
    assert response.status_code == 200
    report = " ".join(str(message) for message in response.context["messages"])
    assert report.startswith("Update completed with errors: ")
    assert f"{SERVICE_NAME} ({oid}: BrokerQueryError: " in report and "HTTP 500" in report
    assert (f"Simbad ({oid}: QueryServiceError: Simbad could not be reached from this TOM "
            f"(Failed to resolve 'simbad.cds.unistra.fr'). Is this machine offline?)") in report
    assert PhotometryReducedDatum.objects.filter(target=target).count() == photometry


def test_check_for_new_data_asks_only_for_targets_the_user_may_change(public_alerce, client, django_user_model):
    """A target id the user may not change is a 404 and asks nothing; a GET (a link, maybe on
    another site) imports nothing; without an id, only the user's own targets are updated
    (tomtoolkit's view updated any target for any logged-in user, on a GET)."""
    mine, theirs = sorted(public_alerce.objects)[:2]
    for oid in (mine, theirs):
        call_command("rundataquery", a_saved_query(oid=oid, max_results=1).id)
    observer = django_user_model.objects.create_user("observer")
    Target.objects.get(name=mine).give_user_access(observer)
    client.force_login(observer)
    public_alerce.requests.clear()
    update = reverse("dataproducts:update-reduced-data")
    assert client.post(update, {"target_id": Target.objects.get(name=theirs).id}).status_code == 404
    assert client.post(update, {"target_id": "1 OR 1=1"}).status_code == 404
    assert client.get(update, {"target_id": Target.objects.get(name=mine).id}).status_code == 405  # a link imports nothing
    assert public_alerce.requests == []
    assert client.post(update, HTTP_REFERER="/dataproducts/data/").status_code == 302
    asked = {path.rsplit("/", 1)[-1] for path in public_alerce.requests if path.startswith("/ztf/v1/objects/")}
    assert mine in asked and theirs not in asked


def test_a_known_target_at_the_same_place_gets_the_broker_name_as_alias(public_alerce):
    oid = sorted(public_alerce.objects)[1]
    item = public_alerce.objects[oid].item
    Target.objects.create(name="AT2019xyz", type=Target.SIDEREAL, ra=item["meanra"], dec=item["meandec"] + 1e-4)
    call_command("rundataquery", a_saved_query(oid=oid, max_results=1).id)
    assert Target.objects.count() == 1
    assert TargetName.objects.get(name=oid).target.name == "AT2019xyz"


@pytest.mark.parametrize("route, fault", [
    ("/ztf/v1/objects/", "500"),            # the light curve of a result
    ("/ztf/v1/objects/", "slow"),           # a timeout
    ("/v2/lightcurve/forced-photometry", "badjson"),
])
def test_a_failing_broker_leaves_no_partial_target(public_alerce, route, fault):
    results = run_query(max_results=2)
    public_alerce.faults[route] = fault
    service = AlerceBrokerDataService()
    with pytest.raises(AlerceApiError) as error:
        service.to_target(results[0])
    assert public_alerce.url in str(error.value)
    assert not Target.objects.exists() and not PhotometryReducedDatum.objects.exists()


@pytest.mark.parametrize("fault", ["500", "badjson"])
def test_a_cutout_the_broker_cannot_give_is_a_warning_not_a_failed_import(public_alerce, fault):
    results = run_query(max_results=2)
    public_alerce.faults["/get_stamp"] = fault
    service = AlerceBrokerDataService()
    target = service.to_target(results[0])
    service.to_reduced_datums(target, service.query_reduced_data(target))
    assert PhotometryReducedDatum.objects.filter(target=target).exists()
    assert not DataProduct.objects.filter(target=target).exists()
    assert public_alerce.url in service.warnings[results[0]["oid"]]


@pytest.mark.parametrize("fault", ["500", "slow", "badjson"])
def test_a_failing_query_shows_a_clear_error(public_alerce, client, fault):
    public_alerce.faults["/ztf/v1/objects"] = fault
    session = client.session
    session["query_parameters"] = form_data(max_results=3)
    session.save()
    response = client.get(reverse("dataservices:run"))
    feedback = response.context["query_feedback"]
    assert "error with the underlying query service" in feedback and public_alerce.url in feedback
    assert response.context["results"] == []


def test_check_for_new_data_goes_back_only_to_a_page_of_this_tom(public_alerce, client, django_user_model):
    """tomtoolkit's view redirected to whatever Referer the request carried."""
    oid = sorted(public_alerce.objects)[0]
    call_command("rundataquery", a_saved_query(oid=oid, max_results=1).id)
    target = Target.objects.get(name=oid)
    observer = django_user_model.objects.create_user("observer")
    target.give_user_access(observer)
    client.force_login(observer)
    update = reverse("dataproducts:update-reduced-data")

    elsewhere = client.post(update, {"target_id": target.id}, HTTP_REFERER="https://evil.example/")
    here = client.post(update, {"target_id": target.id}, HTTP_REFERER=f"http://testserver/targets/{target.id}/?tab=photometry")

    assert elsewhere["Location"] == f"/targets/{target.id}/"
    assert here["Location"] == f"http://testserver/targets/{target.id}/?tab=photometry"


def test_check_for_new_data_on_a_target_no_service_gave_data_says_there_is_nothing_to_update(
        public_alerce, client, django_user_model):
    target = Target.objects.create(name="my own target", type=Target.SIDEREAL, ra=10.0, dec=-20.0)
    observer = django_user_model.objects.create_user("observer")
    target.give_user_access(observer)
    client.force_login(observer)

    response = client.post(reverse("dataproducts:update-reduced-data"), {"target_id": target.id})

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Nothing to update: no data of this target came from a data service (Data Services or the SN Hunter "
        "import it)"]
    assert public_alerce.requests == []
