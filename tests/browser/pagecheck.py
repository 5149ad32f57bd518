"""What every page must do in a real browser, offline: shared by all browser tests.

``watch(context)`` blocks and records every request to a host other than loopback and records
console errors; ``open_page`` loads a URL and keeps the document's size; ``assert_page_ok``
checks the page as a person would see it: every image drawn, nothing fetched from outside,
no console error, the HTML within budget.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

HTML_BUDGET_BYTES = 300_000
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

# Every <img>: made eager (lazy ones below the fold load too), then complete and non-empty.
BROKEN_IMAGES = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0) || i.classList.contains('alerce-stamp-missing'))
             .map(i => i.getAttribute('src'));
}"""

# Width, height and the opacity a person sees (the product over the element and its ancestors).
SEEN = """el => {
  const box = el.getBoundingClientRect();
  let opacity = 1, visible = true;
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const style = getComputedStyle(node);
    opacity *= parseFloat(style.opacity);
    if (style.visibility === 'hidden' || style.display === 'none') visible = false;
  }
  return {width: box.width, height: box.height, opacity, visible};
}"""


@dataclass
class PageWatch:
    """What the pages of one browser context did that they must not."""

    outside_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    html_bytes: dict[str, int] = field(default_factory=dict)  # URL -> size of its document

    def clear(self) -> None:
        self.outside_requests.clear()
        self.console_errors.clear()


def watch(context) -> PageWatch:
    """Route-block every request that leaves loopback and record it; record console errors
    and uncaught exceptions of every page the context opens."""
    seen = PageWatch()

    def route(route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            seen.outside_requests.append(url)
            route.abort()

    def on_page(page) -> None:
        page.on("console", lambda message: message.type == "error" and seen.console_errors.append(
            f"{message.text} ({message.location.get('url', '')})"))
        page.on("pageerror", lambda error: seen.console_errors.append(f"uncaught: {error}"))

    context.route("**/*", route)
    context.on("page", on_page)
    return seen


def open_page(page, seen: PageWatch, url: str):
    """Go to ``url``, wait until the network is quiet, and keep the document's size."""
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.ok, f"{url}: HTTP {response.status if response else 'no answer'}"
    seen.html_bytes[page.url] = len(response.body())
    return response


def seen_as(page, selector: str) -> dict:
    return page.locator(selector).first.evaluate(SEEN)


def assert_visible(page, selector: str) -> None:
    """``selector`` is on screen: a size, not hidden, fully opaque (no CSS hides it)."""
    seen = seen_as(page, selector)
    assert seen["width"] > 0 and seen["height"] > 0 and seen["visible"], f"{selector} is not shown: {seen}"
    assert seen["opacity"] == 1, f"{selector} is drawn with opacity {seen['opacity']}"


def assert_page_ok(page, seen: PageWatch, *, visible: tuple[str, ...] = (),
                   budget_bytes: int = HTML_BUDGET_BYTES) -> None:
    """Every image loaded, ``visible`` shown, nothing from outside, no console error, HTML in budget."""
    page.wait_for_load_state("networkidle")
    assert page.evaluate(BROKEN_IMAGES) == [], f"{page.url}: images that did not load"
    for selector in visible:
        assert_visible(page, selector)
    assert seen.outside_requests == [], f"{page.url}: requests that left loopback"
    assert seen.console_errors == [], f"{page.url}: console errors"
    too_big = {url: size for url, size in seen.html_bytes.items() if size > budget_bytes}
    assert too_big == {}, f"pages over {budget_bytes} bytes of HTML"
