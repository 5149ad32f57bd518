"""Issue 10, acceptance 3: "Create Targets" from the data service succeeds for EVERY object of a
store replayed from the real ZTF alerts, through the TOM's own views against a real
``alerce-classifier serve``; a stamp the API cannot give is a warning, never a failed import.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse
from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_targets.models import Target

from alerce_broker_plugin.config import SERVICE_NAME
from alerce_broker_plugin.forms import MAX_RESULTS
from alerce_broker_plugin.ingest import find_target
from tests.realstack import all_oids, copy_store, serve

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def replayed_api(real_alerts_store: Path, tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("replayed_store")
    with serve(copy_store(real_alerts_store, folder), folder / "serve.log") as url:
        yield url


def create_targets(client, oids: list[str]):
    """The observer's steps: run a query for these oids, select every result, Create Targets."""
    session = client.session
    session["query_parameters"] = {"data_service": SERVICE_NAME, "oid": ",".join(oids), "max_results": len(oids)}
    session.save()
    results = client.get(reverse("dataservices:run")).context["results"]
    assert {r["oid"] for r in results} == set(oids)
    return client.post(reverse("dataservices:create-target"), {
        "query_id": "", "data_service": SERVICE_NAME, "selected_results": [str(i) for i in range(len(results))]})


def test_every_replayed_object_becomes_a_target_with_photometry_and_classifications(replayed_api, client,
                                                                                    tom_settings):
    from tom_alerce.models import TargetClassification

    tom_settings.DATA_SERVICES = {SERVICE_NAME: {"api_url": replayed_api}}
    client.force_login(User.objects.create_user("observer", password="pw"))
    oids = all_oids(replayed_api)
    assert len(oids) > 200  # the real alerts' objects
    warnings = []
    for start in range(0, len(oids), MAX_RESULTS):
        response = create_targets(client, oids[start:start + MAX_RESULTS])
        assert response.status_code == 302, response.content[:500]
        warnings += [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]

    # Each object is a target, or an alias of the target already at its position (ZTF's 1.5")
    targets = {oid: find_target(oid) for oid in oids}
    assert [oid for oid, target in targets.items() if target is None] == []
    assert Target.objects.count() == len({t.pk for t in targets.values()})
    without_photometry = [oid for oid, t in targets.items()
                          if not PhotometryReducedDatum.objects.filter(target=t, brightness__isnull=False).exists()]
    assert without_photometry == []
    with_stamps = set(DataProduct.objects.filter(data_product_type="image_file").values_list("product_id", flat=True))
    missing = {oid for oid in oids if not any(product.startswith(f"{oid}_") for product in with_stamps)}
    classified = {c.target_id for c in TargetClassification.objects.all()}
    # Every target has at least its stamp classification, unless its first alert's stamps were
    # unreadable (and, with too few detections, it has no light-curve class yet either).
    assert {oid for oid, t in targets.items() if t.pk not in classified} <= missing
    # An object without stored stamps (its first alert's cutouts were dead-lettered) is a
    # warning that names it, and the API agrees the stamp is not there.
    assert all(any(oid in w and "stamps" in w for w in warnings) for oid in missing)
    assert len(missing) < len(oids) / 10
    for oid in missing:
        lightcurve = requests.get(f"{replayed_api}/ztf/v1/objects/{oid}/lightcurve", timeout=10).json()
        candid = min((d for d in lightcurve["detections"] if d.get("has_stamp")), key=lambda d: d["mjd"])["candid"]
        answer = requests.get(f"{replayed_api}/get_stamp", params={"oid": oid, "candid": candid}, timeout=10)
        assert answer.status_code == 404
