"""Plugin fixtures: a TOM with throw-away cache and media, and ALeRCE API stand-ins."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerce_broker_plugin.config import SERVICE_NAME
from tests.plugin.alerce_standin import SLOW_S, PublicAlerceStandIn, alerce_object, load_alerts


@pytest.fixture(autouse=True)
def tom_settings(settings, tmp_path):
    """Keep every test's cache and cutout files to itself."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": str(tmp_path)}}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    from django.core.cache import cache
    cache.clear()
    return settings


@pytest.fixture(scope="session")
def standin_objects(shared_data: Path) -> dict:
    return {alert.oid: alerce_object(alert) for alert in load_alerts(shared_data)}


@pytest.fixture
def public_alerce(standin_objects, tom_settings) -> Iterator[PublicAlerceStandIn]:
    """The stand-in of api.alerce.online, configured as the DataService's broker."""
    standin = PublicAlerceStandIn(objects=standin_objects).start()
    tom_settings.DATA_SERVICES = {SERVICE_NAME: {"base_url": standin.url, "stamp_url": standin.url,
                                                 "timeout_s": SLOW_S / 2}}
    try:
        yield standin
    finally:
        standin.stop()
