"""A target page in a browser against the real stack, as ALeRCE's explorer shows an object:
cutouts of a named alert, classifier bars that say what they are, a light curve with units and
a difference/apparent switch, magnitude statistics, a folded curve for a periodic star whose
period its class can have, and
plotly.js fetched once, nothing from outside, HTML within budget."""
from __future__ import annotations

import re

import pytest
import requests

from alerce_contract.client import AlerceClient, AlerceConfig
from tests.browser.conftest import import_object
from tests.browser.pagecheck import assert_page_ok, open_page
from tom_alerce.templatetags.alerce_extras import foldable_periodic_stars

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def top_object(api_url: str, **query) -> str:
    """The oid of the object the API ranks first for ``query``."""
    body = requests.get(f"{api_url}/ztf/v1/objects", params={"ranking": 1, "page_size": 1, **query},
                        timeout=30).json()
    if not body.get("items"):
        pytest.fail(f"the real stack has no object for {query}: {body.get('detail', 'none found')}")
    return body["items"][0]["oid"]


def fresh_supernova(stack, observer):
    """The TOM's target of the likeliest SN first detected last night, imported from the API."""
    oid = top_object(stack.api_url, classifier="stamp_classifier", **{"class": "SN"},
                     firstmjd=stack.night_mjd - 0.5, order_by="probability", order_mode="DESC")
    return import_object(oid, observer)


def plotly_requests(page) -> list[str]:
    return page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                         ".filter(n => n.includes('plotly'))")


def test_a_fresh_supernova_page_has_named_cutouts_bars_light_curve_and_magnitude_statistics(
        observer_page, seen, tom, stack, observer, screenshot):
    target = fresh_supernova(stack, observer)
    page = observer_page

    open_page(page, seen, f"{tom.url}/targets/{target.pk}/?tab=alerce")
    page.wait_for_selector("#alerce.tab-pane.active .alerce-lightcurve .scatterlayer .point")

    assert_page_ok(page, seen, visible=("#alerce-panel img.alerce-stamp", ".alerce-chart .plotly-graph-div",
                                        ".alerce-magstats", ".alerce-cutouts-caption"))
    assert len(plotly_requests(page)) == 1  # plotly.js once, as a file; no plot inlines it
    assert "Cutouts of alert " in page.inner_text(".alerce-cutouts-caption")
    # A stamp-only object says why it has no light-curve class.
    assert "needs at least 6 detections in g or in r" in page.inner_text(".alerce-no-lc-class")
    stamp_chart = page.locator(".alerce-chart").first
    assert stamp_chart.locator(".xtitle").text_content() == "probability"
    top_value = stamp_chart.locator(".bars text").last.bounding_box()
    plot_area = stamp_chart.locator(".main-svg").first.bounding_box()
    assert top_value["x"] + top_value["width"] <= plot_area["x"] + plot_area["width"]  # value not clipped
    lightcurve = page.locator(".alerce-lightcurve")
    assert lightcurve.locator(".ytitle").text_content() == "difference magnitude (AB)"
    assert lightcurve.locator(".xtitle").text_content() == "MJD (days)"
    legend, data = lightcurve.locator(".legend").bounding_box(), lightcurve.locator(".nsewdrag").first.bounding_box()
    assert legend["x"] >= data["x"] + data["width"]  # the legend beside the data, not over it
    bands = page.locator(".alerce-magstats thead th").all_inner_texts()[1:]
    assert bands and set(bands) <= {"g", "r", "i"}
    cells = page.locator(".alerce-magstats tbody td").all_inner_texts()
    assert all(re.fullmatch(r"–|\d+|\d+\.\d\d|\d{5}\.\d{4}", cell) for cell in cells), cells  # mag 0.01, MJD 1e-4

    if lightcurve.locator(".updatemenu-button").count():  # the switch, where the broker has apparent mags
        lightcurve.locator(".updatemenu-button", has_text="Apparent magnitude").click()
        page.wait_for_function("document.querySelector('.alerce-lightcurve .ytitle').textContent"
                               " === 'apparent magnitude (AB)'")
    screenshot(page, "target_page_sn", "#alerce-panel")


def test_a_periodic_star_page_gives_its_period_and_a_folded_light_curve(observer_page, seen, tom, stack, observer,
                                                                       screenshot):
    answer = requests.get(f"{stack.api_url}/ztf/v1/classifiers", timeout=30).json()
    classifiers = {c["classifier_name"] for c in answer}
    if "lc_classifier_top" not in classifiers:  # a checkout whose light-curve model does not fit its features
        pytest.skip(f"the store has no light-curve classes (the worker loaded only {sorted(classifiers)})")
    oid = next(foldable_periodic_stars(AlerceClient(AlerceConfig(api_url=stack.api_url))), None)
    assert oid, "no periodic star has a broker period the tab folds on"
    target = import_object(oid, observer)
    page = observer_page

    open_page(page, seen, f"{tom.url}/targets/{target.pk}/?tab=alerce")
    page.wait_for_selector(".alerce-folded .scatterlayer .point")

    assert_page_ok(page, seen, visible=(".alerce-period", ".alerce-folded .plotly-graph-div"))
    assert page.inner_text(".alerce-period").startswith("P = ")
    assert page.locator(".alerce-folded .xtitle").text_content().startswith("phase (P = ")
    assert page.locator(".alerce-folded .scatterlayer .point").count() >= 2 * 6  # two cycles of detections
    titles = page.locator(".alerce-chart .gtitle, .alerce-chart .annotation-text").all_text_contents()
    assert any(t.startswith("P(class | Periodic)") for t in titles)  # conditional bars say so
    assert len(plotly_requests(page)) == 1
    screenshot(page, "target_page_periodic", "#alerce-panel")


def test_the_target_pages_other_tabs_fetch_nothing_from_outside(observer_page, seen, tom, stack, observer):
    """tomtoolkit's own parts of the page (finder chart, plan, data, photometry) work offline."""
    oid = top_object(stack.api_url, classifier="stamp_classifier", **{"class": "SN"})
    target = import_object(oid, observer)
    page = observer_page

    open_page(page, seen, f"{tom.url}/targets/{target.pk}/")
    for tab in ("observe", "manage-data", "photometry", "alerce"):
        page.click(f"#{tab}-tab")
        page.wait_for_selector(f"#{tab}.tab-pane.active")
    assert_page_ok(page, seen, visible=("#aladin-offline",))
    assert len(plotly_requests(page)) == 1
    probabilities = page.locator("#target-info dt:has-text('probability') + dd").all_inner_texts()
    assert probabilities and all(re.fullmatch(r"[01]\.\d\d", v) for v in probabilities), probabilities
    open_page(page, seen, f"{tom.url}/targets/")  # the list: positions to 5 decimals, no sky map spinning
    ra = page.locator(f"tr:has(a:text-is('{target.name}')) td").nth(3).inner_text()
    assert re.fullmatch(r"\d+\.\d{5}", ra), ra
    assert_page_ok(page, seen, visible=("#aladin-offline",))
    page.go_back()
    labels = page.locator("#target-info dl dt")
    for i in range(labels.count()):  # a long label wraps inside its column, never under its value
        label, value = labels.nth(i).bounding_box(), labels.nth(i).locator("xpath=following-sibling::dd[1]")
        if label and value.count():
            assert label["x"] + label["width"] <= value.bounding_box()["x"] + 1
