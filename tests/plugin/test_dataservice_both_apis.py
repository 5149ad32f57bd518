"""Issue 4, acceptance 2: a test TOM creates targets through the DataService, against a
self-hosted classifier_service API (``serve``'s app over a store the worker filled from
real alerts) and against the loopback stand-in of the public ALeRCE API, by one code path.

What the TOM stores is checked against what the broker itself answers for each object.
"""
from __future__ import annotations

import pytest
import requests
from django.contrib.auth.models import User
from django.urls import reverse

from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_targets.models import Target

from alerce_broker_plugin.config import SERVICE_NAME
from alerce_contract.classifications import classifications_from_probabilities, top_classes

pytestmark = pytest.mark.django_db


def broker_answer(url: str, oid: str, route: str):
    return requests.get(f"{url}/ztf/v1/objects/{oid}/{route}", timeout=10).json()


def test_creating_targets_stores_extras_photometry_cutouts_and_classifications(broker_url, client):
    from tom_alerce.models import TargetClassification

    user = User.objects.create_user("observer", password="pw")
    client.force_login(user)
    session = client.session
    session["query_parameters"] = {"data_service": SERVICE_NAME, "max_results": 20}
    session.save()
    results = client.get(reverse("dataservices:run")).context["results"]  # runs and caches the query
    assert len(results) >= 3
    response = client.post(reverse("dataservices:create-target"), {
        "query_id": "", "data_service": SERVICE_NAME, "selected_results": ["0", "1", "2"]})
    assert response.status_code == 302

    targets = list(Target.objects.all())
    assert {t.name for t in targets} == {r["oid"] for r in results[:3]}
    for target in targets:
        lightcurve = broker_answer(broker_url, target.name, "lightcurve")
        classifications = classifications_from_probabilities(broker_answer(broker_url, target.name, "probabilities"))
        extras = dict(target.targetextra_set.values_list("key", "value"))
        assert extras["ndet"] == str(len(lightcurve["detections"]))
        for classifier_name, (class_name, _) in top_classes(classifications).items():
            assert extras[f"{classifier_name}_class"] == class_name
        photometry = PhotometryReducedDatum.objects.filter(target=target, source_name=SERVICE_NAME)
        detections = photometry.filter(brightness__isnull=False, reduction_version="")
        assert detections.count() == len(lightcurve["detections"])
        assert photometry.filter(limit__isnull=False).count() == len(lightcurve["non_detections"])
        assert TargetClassification.objects.filter(target=target).count() == sum(
            len(c["probabilities"]) for c in classifications.values())
        has_stamps = any(d.get("has_stamp") for d in lightcurve["detections"])
        cutouts = DataProduct.objects.filter(target=target, data_product_type="image_file")
        assert cutouts.count() == (3 if has_stamps else 0)
        assert all(product.data.read(8) == b"\x89PNG\r\n\x1a\n" for product in cutouts)
        assert user.has_perm("tom_targets.view_target", target)
        assert client.get(reverse("targets:detail", kwargs={"pk": target.pk})).status_code == 200
    assert DataProduct.objects.filter(data_product_type="image_file").exists()
