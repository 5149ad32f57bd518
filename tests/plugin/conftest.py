"""Plugin fixtures: a TOM with throw-away cache and media, and ALeRCE API stand-ins."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerce_broker_plugin.config import SERVICE_NAME
from tests.api.api_live import serve_app
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
    tom_settings.DATA_SERVICES = {SERVICE_NAME: {"api_url": standin.url, "stamp_url": standin.url,
                                                 "timeout": SLOW_S / 4, "retries": 0}}
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture(scope="session")
def self_hosted_api(shared_data: Path, tmp_path_factory) -> Iterator[str]:
    """``alerce-classifier serve``'s app over a store that the worker filled from real alerts."""
    from classifier_service.api import create_app
    from classifier_service.classifiers.registry import load_classifiers
    from classifier_service.store import Store
    from classifier_service.stream.archive import ArchiveSource
    from classifier_service.worker import Worker
    from tests.plugin.alerce_standin import ALERT_FILES

    url = f"sqlite:///{tmp_path_factory.mktemp('plugin_store') / 'store.sqlite3'}"
    store = Store(url)
    store.create_all()
    source = ArchiveSource([shared_data / folder for folder in ALERT_FILES])
    Worker(source, store, load_classifiers(["stamp_classifier"])).run()
    yield from serve_app(create_app(url))


@pytest.fixture(params=["public ALeRCE stand-in", "self-hosted classifier_service"])
def broker_url(request, tom_settings) -> Iterator[str]:
    """The same DataService code against both kinds of broker."""
    if request.param.startswith("public"):
        yield request.getfixturevalue("public_alerce").url
        return
    url = request.getfixturevalue("self_hosted_api")
    tom_settings.DATA_SERVICES = {SERVICE_NAME: {"api_url": url, "stamp_url": url}}
    yield url
