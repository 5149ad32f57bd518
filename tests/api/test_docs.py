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
