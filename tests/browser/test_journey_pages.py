"""The other pages of the observer's journeys, in a browser against the real stack: the home
page's tour, every page the navigation bar links to, the data service's form and results (and
Create Targets from them), Tonight with the demo's follow-up rule, "Check for new data" on a
target page, and the broker API's own docs. Each passes pagecheck's checks: every image
drawn, nothing fetched from outside loopback, no console error, HTML in budget."""
from __future__ import annotations

import pytest
from django.urls import reverse
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from tests.browser.conftest import import_object
from tests.browser.pagecheck import assert_page_ok, open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fresh_sn_oids(api_url: str, n: int) -> list[str]:
    import requests

    from alerce_contract.mjd import now_mjd

    items = requests.get(f"{api_url}/ztf/v1/objects", timeout=30, params={
        "classifier": "stamp_classifier", "class": "SN", "ranking": 1, "probability": 0.7,
        "firstmjd": [now_mjd() - 1.5, now_mjd()], "order_by": "probability", "order_mode": "DESC",
        "page_size": n}).json()["items"]
    return [item["oid"] for item in items]


def test_the_home_page_is_a_tour(observer_page, seen, tom, stack, observer, screenshot):
    for oid in fresh_sn_oids(stack.api_url, 1):
        import_object(oid, observer)
    page = observer_page
    open_page(page, seen, f"{tom.url}/")
    assert page.locator("#demo-tour a#tour-sn-hunter").get_attribute("href").endswith("?hours=36")
    assert page.locator("#tour-api-docs").get_attribute("href") == f"{stack.api_url}/docs"
    assert page.locator(".tour-example a").count() >= 1  # the fresh SN
    assert_page_ok(page, seen)
    screenshot(page, "home")


def navbar_paths(page) -> list[str]:
    """The TOM's own pages the navigation bar links to, dropdowns included, in order."""
    hrefs = page.eval_on_selector_all("nav.navbar a[href]", "links => links.map(a => a.getAttribute('href'))")
    return [href for href in dict.fromkeys(hrefs) if href.startswith("/") and "logout" not in href]


def test_every_page_of_the_navigation_bar_works_offline(observer_page, seen, tom):
    """tomtoolkit's pages as well as ours: each data service's form opens without asking the
    internet (tomtoolkit's own ALeRCE service, which asks api.alerce.online for its form, is not
    registered: ALeRCEBroker is this TOM's ALeRCE), and the observation pages' plotly maps read
    their topojson from the TOM, not from cdn.plot.ly."""
    page = observer_page
    open_page(page, seen, f"{tom.url}/")
    paths = navbar_paths(page)
    services = [path.split("data_service=")[1] for path in paths if "data_service=" in path]
    assert "ALeRCEBroker" in services and "ALeRCE" not in services
    assert {"/observations/list/", "/observations/status/", "/alerce/sn-hunter/", "/facilities/tonight/"} <= set(paths)
    for path in paths:
        seen.clear()
        open_page(page, seen, f"{tom.url}{path}")
        assert_page_ok(page, seen)
    for path in ("/observations/list/", "/observations/status/"):  # plotly draws a map once its topojson came
        open_page(page, seen, f"{tom.url}{path}")
        assert page.locator(".js-plotly-plot .geo .lataxis path").count() == 1, f"{path}: no map drawn"


def test_data_service_form_results_and_create_targets(observer_page, seen, tom, screenshot):
    page = observer_page
    open_page(page, seen, f"{tom.url}{reverse('dataservices:create')}?data_service=ALeRCEBroker")
    page.select_option("select[name=classifier]", "stamp_classifier")
    page.wait_for_function("document.querySelectorAll('select[name=class_name] option').length > 1")
    page.select_option("select[name=class_name]", "SN")
    page.fill("input[name=ranking]", "1")
    page.fill("input[name=max_results]", "10")
    page.click("#submit-id-submit")
    page.wait_for_selector("input[name=selected_results]")
    rows = page.locator("input[name=selected_results]").count()
    assert rows == 10
    assert_page_ok(page, seen)
    screenshot(page, "data_service_results")

    page.check("#selectAll")
    page.click("input[type=submit][value='Create Targets']")
    page.wait_for_url(f"{tom.url}/targets/**")
    assert Target.objects.count() == rows
    assert all(PhotometryReducedDatum.objects.filter(target=t).exists() for t in Target.objects.all())
    assert page.locator(".alert-danger").count() == 0
    assert_page_ok(page, seen)


def test_tonight_lists_the_demo_rules_candidates_with_visibility_windows(observer_page, seen, tom, stack,
                                                                         observer, screenshot):
    from example_tom.demo import seed_followup_rule

    seed_followup_rule()
    for oid in fresh_sn_oids(stack.api_url, 12):
        import_object(oid, observer)
    page = observer_page
    open_page(page, seen, f"{tom.url}/facilities/tonight/")
    assert page.locator(".followup-candidate").count() >= 1
    assert page.locator(".followup-candidate .visibility-window").count() >= 1
    assert_page_ok(page, seen)
    screenshot(page, "tonight")


def test_the_api_docs_load_offline(browser_context, seen, stack, screenshot):
    page = browser_context.new_page()
    open_page(page, seen, f"{stack.api_url}/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.locator(".swagger-ui .opblock").count() > 5
    assert_page_ok(page, seen)
    screenshot(page, "api_docs")


def test_check_for_new_data_on_a_target_page_updates_it_from_the_broker(observer_page, seen, tom, stack, observer):
    """The photometry tab's button asks our API again (tomtoolkit's command built every data
    service first, and Simbad's constructor needs the internet: an HTTP 500 offline)."""
    target = import_object(fresh_sn_oids(stack.api_url, 1)[0], observer)
    page = observer_page
    open_page(page, seen, f"{tom.url}/targets/{target.id}/")
    page.click("a[href='#photometry']")
    page.click("text=Check for new data")
    page.wait_for_url(f"{tom.url}/targets/{target.id}/**")
    assert page.url == f"{tom.url}/targets/{target.id}/?tab=photometry"  # back on the tab it was asked from
    assert "Update completed successfully" in page.locator(".alert").all_inner_texts()[0]
    assert_page_ok(page, seen)
