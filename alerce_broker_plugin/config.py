"""Where the broker is: ``settings.DATA_SERVICES["ALeRCEBroker"]``, public ALeRCE when unset.

    DATA_SERVICES = {"ALeRCEBroker": {
        "base_url": "http://localhost:8000",        # or https://api.alerce.online
        "stamp_url": "http://localhost:8000",       # get_stamp route; avro.alerce.online for ALeRCE
        "timeout_s": 20, "classifier_cache_ttl_s": 3600, "page_size": 50,
        "result_classifiers": ["stamp_classifier", "lc_classifier"],  # classes shown per result
    }}
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

from alerce_broker_plugin.client import PUBLIC_API_URL, PUBLIC_STAMP_URL, AlerceApiClient

SERVICE_NAME = "ALeRCEBroker"
DEFAULT_RESULT_CLASSIFIERS = ("stamp_classifier", "lc_classifier")


def service_config() -> dict[str, Any]:
    return dict(getattr(settings, "DATA_SERVICES", {}).get(SERVICE_NAME, {}))


def api_client() -> AlerceApiClient:
    config = service_config()
    return AlerceApiClient(base_url=config.get("base_url", PUBLIC_API_URL),
                           stamp_url=config.get("stamp_url", PUBLIC_STAMP_URL),
                           timeout_s=float(config.get("timeout_s", 20.0)))


def classifier_cache_ttl_s() -> float:
    return float(service_config().get("classifier_cache_ttl_s", 3600))


def page_size() -> int:
    """Objects asked per ``/objects`` page while walking the pages of a query."""
    return int(service_config().get("page_size", 50))


def result_classifiers() -> tuple[str, ...]:
    return tuple(service_config().get("result_classifiers", DEFAULT_RESULT_CLASSIFIERS))
