"""The pages, through Django's test client: the ALeRCE tab, cutouts, SN Hunter, the target list."""
from __future__ import annotations

import io

import pytest
import requests
from django.core.cache import cache
from django.urls import reverse
from PIL import Image
from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_targets.models import Target

from tests.tom.seeding import CLASSIFICATIONS
from tom_alerce.models import TargetClassification

NOTHING_LISTENS = {"api_url": "http://127.0.0.1:9", "retries": 0}  # a broker that is down

pytestmark = pytest.mark.django_db


def test_target_page_has_the_alerce_tab_with_charts_cutouts_and_light_curve(client, user, seeded_target, alert):
    client.force_login(user)
    html = client.get(reverse("targets:detail", kwargs={"pk": seeded_target.pk})).content.decode()
    assert 'id="alerce-tab"' in html and 'id="alerce-panel"' in html
    assert html.count('class="alerce-chart"') == 3  # stamp, lc_classifier, the lc hierarchy
    assert 'class="alerce-lightcurve"' in html and "i detection" in html and "g upper limit" in html
    assert reverse("tom_alerce:stamp", kwargs={"oid": alert.oid, "kind": "difference"}) in html
    assert "https://www.wis-tns.org/search?" in html


def test_cutouts_are_served_from_the_targets_data_products(client, user, seeded_target, alert):
    client.force_login(user)
    response = client.get(reverse("tom_alerce:stamp", kwargs={"oid": alert.oid, "kind": "science"}))
    assert response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (189, 189)


def test_cutouts_of_objects_not_in_the_tom_come_from_the_api_get_stamp(client, db, alerce_api, alert):
    url = reverse("tom_alerce:stamp", kwargs={"oid": alert.oid, "kind": "template"})
    assert client.get(url + "?candid=1").status_code == 200
    assert client.get(url + "?candid=1").status_code == 200
    assert sum("/get_stamp" in r for r in alerce_api.requests) == 1  # the second came from the cache


def stamped_object(api_url: str) -> tuple[str, str]:
    """(oid, candid of its discovery stamps) of an object our API holds, with a later alert too."""
    for item in requests.get(f"{api_url}/ztf/v1/objects", params={"page_size": 100}, timeout=10).json()["items"]:
        detections = requests.get(f"{api_url}/ztf/v1/objects/{item['oid']}/detections", timeout=10).json()
        stamped = sorted((d for d in detections if d.get("has_stamp")), key=lambda d: d["mjd"])
        if len(stamped) > 1:
            return item["oid"], str(stamped[0]["candid"])
    raise AssertionError("no object with two alerts in the store")


def test_without_a_candid_the_discovery_stamps_are_asked_for(client, db, our_api):
    oid, discovery = stamped_object(our_api)
    response = client.get(reverse("tom_alerce:stamp", kwargs={"oid": oid, "kind": "science"}))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert cache.get(f"tom_alerce:first_stamp_candid:{our_api}:{oid}") == discovery


def test_unknown_cutouts_are_404_not_errors(client, db, alerce_api):
    assert client.get(reverse("tom_alerce:stamp", kwargs={"oid": "ZTF00nothing", "kind": "science"})).status_code == 404
    assert client.get(reverse("tom_alerce:stamp", kwargs={"oid": "x", "kind": "bogus"})).status_code == 404


def test_sn_hunter_page_renders_filters_and_loads_the_list_through_htmx(client):
    html = client.get(reverse("tom_alerce:sn-hunter") + "?hours=12").content.decode()
    assert 'id="hunter-form"' in html and 'hx-trigger="load"' in html and "hours=12" in html


def test_sn_hunter_lists_fresh_api_candidates_with_first_detection_and_host_hints(client, db, alerce_api, alert):
    html = client.get(reverse("tom_alerce:sn-hunter-candidates")).content.decode()
    assert alert.oid in html and "P(SN) 0.90" in html
    assert f"{alert.metadata['sgscore1']:.2f}" in html  # host hint from the API's features
    assert "Create target" in html


def test_sn_hunter_filters_out_candidates_below_the_minimum_probability(client, db, alerce_api, alert):
    html = client.get(reverse("tom_alerce:sn-hunter-candidates") + "?min_probability=0.95").content.decode()
    assert alert.oid not in html and "No SN candidates" in html


def test_sn_hunter_shows_tom_targets_when_the_api_is_down(client, user, seeded_target, settings):
    client.force_login(user)
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": NOTHING_LISTENS}  # nothing listens there
    html = client.get(reverse("tom_alerce:sn-hunter-candidates") + "?hours=720").content.decode()
    assert "could not be queried" in html and seeded_target.name in html and "Open target" in html


def test_create_target_imports_what_the_data_service_imports(client, user, our_api):
    oid, discovery = stamped_object(our_api)
    client.force_login(user)
    response = client.post(reverse("tom_alerce:create-target"), {"oid": oid})
    target = Target.objects.get(name=oid)
    assert response.status_code == 302 and response["Location"].endswith("?tab=alerce")
    lightcurve = requests.get(f"{our_api}/ztf/v1/objects/{oid}/lightcurve", timeout=10).json()
    photometry = PhotometryReducedDatum.objects.filter(target=target, brightness__isnull=False, reduction_version="")
    assert photometry.count() == len(lightcurve["detections"])
    probabilities = requests.get(f"{our_api}/ztf/v1/objects/{oid}/probabilities", timeout=10).json()
    assert TargetClassification.objects.filter(target=target).count() == len(probabilities)
    assert {"ndet", "firstmjd", "stamp_classifier_class"} <= set(target.targetextra_set.values_list("key", flat=True))
    assert sorted(DataProduct.objects.filter(target=target).values_list("product_id", flat=True)) == [
        f"{oid}_{discovery}_{kind}" for kind in ("difference", "science", "template")]


def test_an_object_the_broker_does_not_know_is_a_message_not_an_error(client, user, our_api):
    client.force_login(user)
    response = client.post(reverse("tom_alerce:create-target"), {"oid": "ZTF00nothing"}, follow=True)
    assert response.status_code == 200 and "not imported" in response.content.decode()
    assert not Target.objects.exists()


def test_a_target_created_by_an_ordinary_user_is_visible_to_them(client, django_user_model, our_api):
    oid, _ = stamped_object(our_api)
    observer = django_user_model.objects.create_user("student", password="pw-for-tests")
    client.force_login(observer)
    response = client.post(reverse("tom_alerce:create-target"), {"oid": oid})
    assert response["Location"].startswith("/targets/")
    assert client.get(response["Location"]).status_code == 200


def test_create_target_needs_a_login_and_an_oid(client, user):
    assert client.post(reverse("tom_alerce:create-target"), {"oid": "x"}).status_code == 302
    client.force_login(user)
    assert client.post(reverse("tom_alerce:create-target"), {"oid": " "}).status_code == 400


def test_target_list_shows_top_stamp_and_light_curve_classes(client, user, seeded_target):
    client.force_login(user)
    html = client.get(reverse("targets:list")).content.decode()
    assert "Stamp class" in html and "SN (0.81)" in html and "SNIa (0.42)" in html
    sorted_html = client.get(reverse("targets:list") + "?sort=-stamp_class").content.decode()
    assert "SN (0.81)" in sorted_html


def test_target_list_shows_a_rubin_targets_classes_from_rubins_own_classifiers(client, user):
    target = Target.objects.create(name="170269482370652550", type="SIDEREAL", ra=237.97564, dec=-5.48959)
    for classifier, class_name, probability in [("stamp_classifier_lsst", "SN", 0.99),
                                                ("lc_classifier_lsst", "SNII", 0.45)]:
        TargetClassification.objects.create(target=target, classifier_name=classifier, classifier_version="1.0.0",
                                            class_name=class_name, probability=probability, ranking=1)
    client.force_login(user)
    html = client.get(reverse("targets:list")).content.decode()
    assert "SN (0.99)" in html and "SNII (0.45)" in html


def test_nav_bar_links_the_sn_hunter(client):
    assert reverse("tom_alerce:sn-hunter") in client.get("/").content.decode()


def test_sn_hunter_leaves_out_tom_targets_first_detected_before_the_window(client, user, seeded_target, settings):
    client.force_login(user)
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": NOTHING_LISTENS}
    url = reverse("tom_alerce:sn-hunter-candidates")
    # the seeded SN II was first detected 27 days before its last alert (2.4 h ago)
    assert seeded_target.name not in client.get(url + "?hours=24").content.decode()
    assert seeded_target.name in client.get(url + "?hours=720").content.decode()


def test_sn_hunter_shows_tom_targets_only_to_users_who_may_see_them(client, seeded_target, settings):
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": NOTHING_LISTENS}
    assert seeded_target.permissions == Target.Permissions.PRIVATE
    html = client.get(reverse("tom_alerce:sn-hunter-candidates") + "?hours=720").content.decode()
    assert seeded_target.name not in html  # anonymous: open targets only


def test_cutouts_of_private_targets_are_not_served_to_anonymous_users(client, seeded_target, alert, settings):
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": NOTHING_LISTENS}
    assert client.get(reverse("tom_alerce:stamp", kwargs={"oid": alert.oid, "kind": "science"})).status_code == 404
