"""The TNS tab in a browser against the real stack: a form with the built report as defaults,
the destination and credentials said before sending, the JSON folded away, the history below
it, and a dry run (ticked by default in the demo) recorded with the observer's edits."""
from __future__ import annotations

import pytest

from tests.browser.pagecheck import assert_page_ok, assert_visible, open_page
from tests.browser.test_target_page import fresh_supernova

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_observer_edits_the_report_and_records_a_dry_run(observer_page, seen, tom, stack, observer, settings,
                                                            screenshot):
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "TNS": {
        **settings.DATA_SERVICES.get("TNS", {}), "base_url": "https://sandbox.wis-tns.org", "api_key": "",
        "dry_run_default": True}}
    target = fresh_supernova(stack, observer)
    page = observer_page

    open_page(page, seen, f"{tom.url}/targets/{target.pk}/?tab=tns")
    page.wait_for_selector("#tns.tab-pane.active #tns-report-form")

    assert_page_ok(page, seen, visible=("#tns-destination", "#id_reporter", "#id_remarks", "#id_nd_obsdate"))
    destination = page.inner_text("#tns-destination")
    assert "the TNS sandbox" in destination and "Credentials missing" in destination
    assert page.is_checked("#id_dry_run")  # on by default here
    assert page.input_value("#id_discovery_datetime")[:2] == "20"
    assert target.name in page.input_value("#id_remarks")
    assert not page.is_visible("#tns-preview")  # the JSON is folded away until asked for
    form, history = page.locator("#tns-report-form").bounding_box(), page.locator("#tns-reports").bounding_box()
    assert history["y"] >= form["y"] + form["height"]  # the history sits below the form, overlapping nothing
    page.click("#tns-preview-details summary")
    assert_visible(page, "#tns-preview")
    preview = page.locator("#tns-preview").bounding_box()
    assert history["y"] >= preview["y"] + preview["height"]
    page.click("#tns-preview-details summary")
    screenshot(page, "tns_tab", "#tns-panel")

    page.fill("#id_reporter", "A. Observer (ALeRCE)")
    page.fill("#id_remarks", "SN candidate, checked by eye.")
    page.click("#tns-report-button")
    page.wait_for_selector("#tns-reports tr.tns-report[data-status='dry_run']")

    report = target.tns_reports.get()
    assert report.payload["at_report"]["0"]["reporter"] == "A. Observer (ALeRCE)"
    assert report.payload["at_report"]["0"]["remarks"] == "SN candidate, checked by eye."
    assert_page_ok(page, seen)
    screenshot(page, "tns_tab_after_dry_run", "#tns-panel")
