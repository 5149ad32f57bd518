"""Headless Debian chromium, driven by playwright, against THE REAL STACK: a store the real
worker filled from a simulated night (last night, as the demo's) and from every real ZTF alert
in ../shared/data, ``alerce-classifier serve`` over it, and the TOM (pytest-django's live
server) configured with that API as its broker. Nothing of our own API is faked.

Fixtures for other browser tests: ``stack`` (the API's URL and the night), ``tom`` (the TOM
pointed at it), ``observer_page`` (a logged-in page whose context ``seen`` records requests
leaving loopback and console errors; see pagecheck.py) and ``import_object`` (a target made
by the TOM's own import from the API).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.pagecheck import watch
from tests.realstack import copy_store, last_night, replay, serve, simulate_night

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "pw-for-browser-tests"
VIEWPORT = {"width": 1440, "height": 900}
NIGHT_ALERTS, NIGHT_SEED = 300, 7  # the demo's night size; this seed has plenty of fresh SNe

# playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# around it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass(frozen=True)
class Stack:
    api_url: str
    night_mjd: float
    store_url: str


@pytest.fixture(scope="session")
def stack(request, tmp_path_factory) -> Stack:
    """The night is simulated while the real alerts are replayed (unless a test has done so already)."""
    from alerce_contract.mjd import now_mjd

    folder = tmp_path_factory.mktemp("real_stack")
    night = last_night(now_mjd())
    with ThreadPoolExecutor(1) as pool:
        simulating = pool.submit(simulate_night, folder / "night", NIGHT_ALERTS, NIGHT_SEED, night)
        real_alerts = request.getfixturevalue("real_alerts_store")
        store = replay(copy_store(real_alerts, folder), simulating.result())  # the real alerts, then the night
    with serve(store, folder / "serve.log") as url:
        yield Stack(api_url=url, night_mjd=night, store_url=store)


@pytest.fixture
def tom(stack, settings, tmp_path, live_server):
    """The TOM under test, its broker our API; cache and media its own."""
    from django.core.cache import cache

    from alerce_contract.client import SETTINGS_BLOCK

    settings.DATA_SERVICES = {**settings.DATA_SERVICES, SETTINGS_BLOCK: {
        **settings.DATA_SERVICES.get(SETTINGS_BLOCK, {}), "api_url": stack.api_url, "stamp_url": ""}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "browser-tests"}}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    return live_server


@pytest.fixture(scope="package")
def browser():
    """One chromium for the browser tests, closed when they are done: Playwright's sync API
    keeps an event loop running in the main thread while it lives, which would break every
    later test that runs its own loop (pytest-django runs these before the API tests)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def observer(django_user_model, settings):
    """The logged-in user. A fast password hash: each test creates and logs in one user, and
    the deployed PBKDF2's million rounds would cost a second of CPU each time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_superuser("observer", "observer@example.org", PASSWORD)


@pytest.fixture
def browser_context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def seen(browser_context):
    """What the context's pages fetched from outside and logged as errors (pagecheck.PageWatch)."""
    return watch(browser_context)


def log_in(page, tom_url: str, user, password: str = PASSWORD) -> None:
    page.goto(f"{tom_url}/accounts/login/")
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{tom_url}/")


def give_session(context, tom_url: str, user) -> None:
    """Log ``user`` in without the form: the session Django's test client opens, as the browser's
    cookie. The form itself is the journey's first step (test_journey logs in through it)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": tom_url}])


@pytest.fixture
def observer_page(browser_context, seen, tom, observer):
    give_session(browser_context, tom.url, observer)
    yield browser_context.new_page()


def import_object(oid: str, user):
    """A target made by the TOM's own import (the data service's, which the SN Hunter uses)."""
    from alerce_broker_plugin.dataservice import AlerceBrokerDataService

    service = AlerceBrokerDataService(user=user)
    result = service.import_object(service.fetch_object(oid))
    result.target.give_user_access(user)
    return result.target


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str, selector: str | None = None) -> Path:
        path = ARTIFACTS / f"{name}.png"
        (page.locator(selector) if selector else page).screenshot(path=str(path))
        return path

    return take
