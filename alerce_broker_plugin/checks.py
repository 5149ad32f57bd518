"""``manage.py check`` for this plugin's settings: a mistake is reported when the TOM starts
(``runserver``, ``migrate`` and ``readstreams`` run the checks), not as an HTTP 500 on the
first page that asks the broker or a traceback from the listener.

* E001: the ``DATA_SERVICES["ALeRCEBroker"]`` block does not read (a misspelt key, a value of
  the wrong type).
* E002: an active ``ALERT_STREAMS`` entry of the classified-alert listener does not build (an
  unknown OPTIONS key, which tom-alertstreams would drop without a word; a filter with an
  unknown key; a decoder that cannot be imported).
* W001: tomtoolkit's own ``tom_dataservices`` app is installed as it is, so its ALeRCE service
  (which asks api.alerce.online as its form opens) is offered beside ALeRCEBroker and its
  catalogue services fail with an HTTP 500 where the internet cannot be reached.
"""
from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

SETTINGS_DOC = "docs/install_into_a_tom.md"


@checks.register()
def check_broker_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from alerce_broker_plugin import config

    try:
        config.api_client()
        config.page_size(), config.classifier_cache_ttl_s(), config.result_classifiers()
    except (ValueError, TypeError) as exc:
        return [checks.Error(str(exc), hint=f"See the settings block in {SETTINGS_DOC}, section 3.",
                             id="alerce_broker_plugin.E001")]
    return []


@checks.register()
def check_alert_streams(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from alerce_broker_plugin.stream import ClassifiedAlertStream

    errors = []
    for entry in getattr(settings, "ALERT_STREAMS", None) or []:
        if not entry.get("ACTIVE", True):
            continue
        try:
            stream_class = import_string(entry.get("NAME", ""))
        except ImportError:
            continue  # tom-alertstreams names what it cannot import
        if not (isinstance(stream_class, type) and issubclass(stream_class, ClassifiedAlertStream)):
            continue
        options = entry.get("OPTIONS") or {}
        unknown = sorted(set(options) - set(stream_class.allowed_keys))
        try:
            if unknown:
                raise ValueError(f"unknown OPTIONS {unknown}; known: {sorted(stream_class.allowed_keys)}")
            stream_class(**options)
        except (ValueError, TypeError, ImportError, ImproperlyConfigured) as exc:
            errors.append(checks.Error(f"ALERT_STREAMS entry {entry.get('NAME')}: {exc}",
                                       hint=f"See the live stream in {SETTINGS_DOC}, section 4.",
                                       id="alerce_broker_plugin.E002"))
    return errors


@checks.register()
def check_tomtoolkit_alerce_replaced(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from alerce_broker_plugin.apps import TomDataservices

    if not apps.is_installed("tom_dataservices"):
        return []
    installed = apps.get_app_config("tom_dataservices")
    if isinstance(installed, TomDataservices):
        return []
    return [checks.Warning(
        "tomtoolkit's own ALeRCE data service is offered beside ALeRCEBroker; its form asks "
        "api.alerce.online as it opens, and the catalogue services give an HTTP 500 when they "
        "cannot be reached",
        hint="In INSTALLED_APPS, put 'alerce_broker_plugin.apps.TomDataservices' in place of "
             f"'tom_dataservices' ({SETTINGS_DOC}, section 2).",
        id="alerce_broker_plugin.W001")]
