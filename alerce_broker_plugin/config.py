"""The DataService's settings: the one ``settings.DATA_SERVICES["ALeRCEBroker"]`` block.

    DATA_SERVICES = {"ALeRCEBroker": {
        "api_url": "http://127.0.0.1:8001",     # or https://api.alerce.online (the default)
        "stamp_url": "http://127.0.0.1:8001",   # get_stamp; defaults to api_url (avro.alerce.online for public)
        "timeout": 20, "connect_timeout": 3.05, "retries": 2,
        "classifier_cache_ttl_s": 3600, "page_size": 50,
        "result_classifiers": ["stamp_classifier", "lc_classifier"],  # classes shown per result
    }}

Where the broker is and how the client talks to it is read by
:func:`alerce_contract.client.client_from_settings`, as every other app reads it; the keys
below are the DataService's own.
"""
from __future__ import annotations

from django.conf import settings

from alerce_contract.client import SETTINGS_BLOCK, AlerceClient, client_from_settings, setting_number, settings_block
from alerce_contract.taxonomy import LC_CLASSIFIER, STAMP_CLASSIFIER

SERVICE_NAME = SETTINGS_BLOCK
DEFAULT_RESULT_CLASSIFIERS = (STAMP_CLASSIFIER, LC_CLASSIFIER)


def api_client() -> AlerceClient:
    return client_from_settings(settings)


def classifier_cache_ttl_s() -> float:
    return setting_number("classifier_cache_ttl_s", settings_block(settings).get("classifier_cache_ttl_s", 3600), float)


def page_size() -> int:
    """Objects asked per ``/objects`` page while walking the pages of a query."""
    return setting_number("page_size", settings_block(settings).get("page_size", 50), int)


def result_classifiers() -> tuple[str, ...]:
    return tuple(settings_block(settings).get("result_classifiers", DEFAULT_RESULT_CLASSIFIERS))
