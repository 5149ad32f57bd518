"""The SN Hunter in a browser against the real stack: last night's fresh supernovae with their
discovery stamps, readable probabilities and host hints, shareable filters, and a "Create
target" that imports what the data service imports."""
from __future__ import annotations

import pytest
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from tests.browser.pagecheck import assert_page_ok, assert_visible, open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOURS = 36  # the demo's printed link


def test_last_nights_supernovae_are_listed_with_stamps_scores_and_host_hints(observer_page, seen, tom, screenshot):
    page = observer_page
    open_page(page, seen, f"{tom.url}/alerce/sn-hunter/?hours={HOURS}")
    page.wait_for_selector(".sn-candidate")

    cards = page.locator(".sn-candidate")
    assert cards.count() >= 5
    assert page.locator(".sn-candidate img.alerce-stamp").count() == 3 * cards.count()
    stamps = [img.bounding_box() for img in cards.first.locator("img.alerce-stamp").all()]
    assert len({round(box["y"]) for box in stamps}) == 1, stamps  # science, template, difference side by side
    assert_page_ok(page, seen, visible=(".sn-candidate .sn-score", ".sn-candidate .sn-score-bar .alerce-bar-fill",
                                        ".sn-candidate .sn-stamp-probabilities"))
    score = page.locator(".sn-candidate .sn-score").first.inner_text()
    assert score.startswith("P(SN) 0.") or score == "P(SN) 1.00"
    classes = page.locator(".sn-candidate").first.locator(".sn-stamp-probabilities th").all_inner_texts()
    assert set(classes) == {"SN", "AGN", "VS", "asteroid", "bogus"}
    assert page.locator(".sn-candidate .sn-host:has-text('away')").count() >= 1  # the PS1 neighbour
    screenshot(page, "sn_hunter")


def test_filters_live_in_the_address_so_a_list_can_be_shared(observer_page, seen, tom):
    page = observer_page
    open_page(page, seen, f"{tom.url}/alerce/sn-hunter/?hours={HOURS}")
    page.wait_for_selector(".sn-candidate")
    every = page.locator(".sn-candidate").count()

    page.fill("#id_min_probability", "0.95")
    page.click("#hunter-refresh")
    page.wait_for_url("**min_probability=0.95**")
    page.wait_for_function(f"document.querySelectorAll('.sn-candidate').length < {every}")
    strict = page.locator(".sn-candidate").count()
    shared = page.url

    page.goto(shared)  # the address alone gives the same list
    page.wait_for_selector(".sn-candidate")
    assert page.locator(".sn-candidate").count() == strict
    assert page.input_value("#id_min_probability") == "0.95"
    assert_page_ok(page, seen)


def test_create_target_imports_photometry_and_classifications_then_tns_and_followup_open(observer_page, seen, tom):
    from tom_alerce.models import TargetClassification

    page = observer_page
    open_page(page, seen, f"{tom.url}/alerce/sn-hunter/?hours={HOURS}")
    card = page.locator(".sn-candidate").first
    card.wait_for()
    oid = card.get_attribute("data-oid")

    card.locator("button:has-text('Create target')").click()
    page.wait_for_selector("#alerce.tab-pane.active")

    target = Target.objects.get(name=oid)
    assert PhotometryReducedDatum.objects.filter(target=target, brightness__isnull=False).exists()
    assert TargetClassification.objects.filter(target=target, classifier_name="stamp_classifier").count() == 5
    extras = dict(target.targetextra_set.values_list("key", "value"))
    assert extras["stamp_classifier_class"] == "SN" and "ndet" in extras
    assert_page_ok(page, seen)

    page.goto(f"{tom.url}/alerce/sn-hunter/?hours={HOURS}")  # back on the list, its actions are live
    card = page.locator(f".sn-candidate[data-oid='{oid}']")
    card.wait_for()
    tns = card.locator("a:has-text('Report to TNS')").get_attribute("href")
    followup = card.locator("a:has-text('Request follow-up')").get_attribute("href")

    tns_page = open_page(page, seen, f"{tom.url}{tns}")
    assert oid in tns_page.text()
    followup_page = open_page(page, seen, f"{tom.url}{followup}")
    assert oid in followup_page.text()
    assert_page_ok(page, seen)
