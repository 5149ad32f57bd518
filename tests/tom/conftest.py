from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.tom.seeding import fake_alerce_api, real_alert, seed_target


@pytest.fixture(autouse=True)
def media_and_cache(settings, tmp_path):
    """Uploaded cutouts go to a temporary folder; no cached stamp leaks between tests."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture(scope="session")
def alert(shared_data):
    return real_alert(shared_data)


@pytest.fixture
def seeded_target(db, alert):
    return seed_target(alert)


@pytest.fixture
def alerce_api(alert, settings):
    """A loopback ALeRCE API with the real alert as a fresh SN candidate; the TOM points at it."""
    with fake_alerce_api(alert) as server:
        settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": {"api_url": server.url}}
        yield server


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_superuser("observer", "observer@example.org", "pw-for-tests")


@pytest.fixture(scope="session")
def real_api(tmp_path_factory):
    """``alerce-classifier serve`` over a store the real worker filled with a small simulated
    night of supernovae (our own API, never a fake of it)."""
    from alerce_contract.mjd import now_mjd
    from tests.realstack import last_night, replay, serve, simulate_night

    folder = tmp_path_factory.mktemp("tom_real_api")
    night = simulate_night(folder / "night", 40, 11, last_night(now_mjd()))
    store = replay(f"sqlite:///{folder / 'store.sqlite3'}", night)
    with serve(store, folder / "serve.log") as url:
        yield url


@pytest.fixture
def our_api(real_api, settings):
    """The TOM's broker is ``real_api``."""
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": {"api_url": real_api}}
    return real_api
