"""What an observer sees: the SN Hunter and a target's ALeRCE tab, drawn by a real browser."""
from __future__ import annotations

import pytest

from tests.tom.seeding import fake_alerce_api, seed_target

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALL_STAMPS_LOADED = """sel => {
  const imgs = Array.from(document.querySelectorAll(sel));
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0
                                            && !i.classList.contains('alerce-stamp-missing'));
}"""


@pytest.fixture
def alert(shared_data):
    from tests.tom.seeding import real_alert
    return real_alert(shared_data)


@pytest.fixture
def api(alert, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with fake_alerce_api(alert) as server:
        settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": {"api_url": server.url}}
        yield server


def test_sn_hunter_draws_candidates_with_cutouts_and_scores(logged_in_page, live_server, api, alert, screenshot):
    page = logged_in_page
    page.goto(f"{live_server.url}/alerce/sn-hunter/?hours=24&min_probability=0.5")
    page.wait_for_selector(f".sn-candidate[data-oid='{alert.oid}']")
    page.wait_for_function(ALL_STAMPS_LOADED, arg=".sn-candidate img.alerce-stamp")
    assert page.locator(".sn-candidate .sn-score").first.inner_text().startswith("P(SN) 0.90")
    assert page.locator(".sn-candidate img.alerce-stamp").count() == 3
    screenshot(page, "sn_hunter")
    page.click("#hunter-refresh")  # the refresh swaps the list in place; the page stays usable
    page.wait_for_function(ALL_STAMPS_LOADED, arg=".sn-candidate img.alerce-stamp")
    page.click(".sn-candidate button:has-text('Create target')")
    page.wait_for_selector("#alerce.tab-pane.active #alerce-panel")
    assert "?tab=alerce" in page.url


def test_alerce_tab_draws_cutouts_probabilities_and_light_curve(logged_in_page, live_server, api, alert,
                                                                 screenshot):
    target = seed_target(alert)
    page = logged_in_page
    page.goto(f"{live_server.url}/targets/{target.pk}/?tab=alerce")
    page.wait_for_selector("#alerce.tab-pane.active")  # ?tab=alerce opens the tab
    page.wait_for_function(ALL_STAMPS_LOADED, arg="#alerce-panel img.alerce-stamp")
    page.wait_for_selector(".alerce-chart .plotly-graph-div .main-svg")
    assert page.locator(".alerce-chart .plotly-graph-div").count() == 3
    assert page.locator(".alerce-chart .bars path").count() >= 5 + 15 + 3  # stamp, lc_classifier, groups…
    page.wait_for_selector(".alerce-lightcurve .scatterlayer .point")
    assert page.locator(".alerce-lightcurve .scatterlayer .point").count() >= len(alert.detections)
    screenshot(page, "target_alerce_tab", "#alerce-panel")


def test_target_list_shows_classification_columns(logged_in_page, live_server, api, alert, screenshot):
    seed_target(alert)
    page = logged_in_page
    page.goto(f"{live_server.url}/targets/")
    page.wait_for_selector("text=SN (0.81)")
    assert page.locator("th:has-text('Stamp class')").count() == 1
    screenshot(page, "target_list")
