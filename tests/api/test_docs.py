"""The API's documentation pages work offline: every script, style and icon from the API."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest

URL_IN_PAGE = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_loads_everything_from_the_api_itself(client, page):
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    assert not re.search(r"(?:https?:)?//(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}",
                         html.replace("http://www.w3.org/2000/svg", "")), html
    referenced = {urljoin(str(response.url), u) for u in URL_IN_PAGE.findall(html)}
    assets = {u for u in referenced if not u.endswith("/openapi.json")}
    assert len(assets) >= (3 if page == "/docs" else 2), referenced  # script, style/icon
    for url in referenced:
        assert urlparse(url).hostname == "127.0.0.1"
        fetched = client.get(urlparse(url).path)
        assert fetched.status_code == 200 and fetched.content, url


def test_the_vendored_scripts_name_no_cdn(client):
    """Switched-off features (validator badge, footer logo) must not point elsewhere."""
    redoc = client.get("/static/api-docs/redoc/redoc.standalone.js").text
    assert "cdn.redoc.ly" not in redoc and "sourceMappingURL=redoc" not in redoc
    assert '"validatorUrl": null' in client.get("/docs").text


@pytest.mark.browser
@pytest.mark.parametrize(("page_path", "rendered"), [("/docs", ".opblock"), ("/redoc", "h1")])
def test_the_docs_render_in_chromium_with_no_error_and_no_other_host(live_url, page_path,
                                                                     rendered):
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors, elsewhere = [], []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("request", lambda r: urlparse(r.url).hostname not in (None, "127.0.0.1")
                and elsewhere.append(r.url))
        page.goto(live_url + page_path, wait_until="networkidle")
        page.wait_for_selector(rendered, timeout=30_000)
        operations = page.locator(rendered).count()
        browser.close()
    assert operations >= 1 and errors == [] and elsewhere == []
