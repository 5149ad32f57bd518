"""The SN Hunter's candidates of both surveys: a Rubin target classified SN by Rubin's own stamp
model is a candidate like a ZTF one (the hunter reads every early classifier the contract
names); the broker's Rubin candidates are in tests/plugin/test_dataservice_rubin.py."""
from __future__ import annotations

import pytest
from django.urls import reverse
from tom_targets.models import Target

from alerce_contract.taxonomy import STAMP_CLASSIFIER, STAMP_CLASSIFIER_LSST
from tom_alerce.classifications import record_classifications
from tom_alerce.sn_hunter import HunterFilters, tom_candidates

pytestmark = pytest.mark.django_db


def _sn_target(name: str, classifier: str) -> Target:
    target = Target.objects.create(name=name, type=Target.SIDEREAL, ra=150.0, dec=-30.0)
    record_classifications(target, {classifier: {"version": "1.0.0", "probabilities": {
        "SN": 0.8, "AGN": 0.1, "VS": 0.05, "asteroid": 0.03, "bogus": 0.02}}}, source="stream")
    return target


def test_ztf_and_rubin_sn_candidates_are_both_listed_with_their_stamp_probabilities():
    ztf = _sn_target("ZTF26aaaaaaa", STAMP_CLASSIFIER)
    rubin = _sn_target("170028520123456789", STAMP_CLASSIFIER_LSST)
    candidates = {c.oid: c for c in tom_candidates(HunterFilters(hours=24), Target.objects.all())}
    assert set(candidates) == {ztf.name, rubin.name}
    assert candidates[rubin.name].stamp_probabilities["SN"] == pytest.approx(0.8)


def test_a_broker_that_lists_no_rubin_stamp_classifier_is_asked_its_ztf_route_only(client, alerce_api, alert):
    """Public ALeRCE's classifier list names ZTF's models only (its LSST API is another host
    with models of its own): the hunter asks no LSST route there and shows no error for it."""
    html = client.get(reverse("tom_alerce:sn-hunter-candidates")).content.decode()
    assert alert.oid in html and "could not be queried" not in html
    assert not any(path.startswith("/object_api") for path in alerce_api.requests)
