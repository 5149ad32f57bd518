"""A TOM whose plugin settings are wrong says so when it starts (``manage.py check``, which
``runserver``, ``migrate`` and ``readstreams`` run first), not with an HTTP 500 on the first
page that asks the broker, or a traceback from the listener."""
from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from alerce_broker_plugin.config import SERVICE_NAME

STREAM = "alerce_broker_plugin.stream.ClassifiedAlertStream"
STREAM_OPTIONS = {"BOOTSTRAP_SERVERS": "127.0.0.1:9092", "TOPIC": "alerce-classified"}


def messages(tag_id: str) -> list[str]:
    return [message.msg for message in checks.run_checks() if message.id == tag_id]


def test_the_example_toms_settings_pass_every_check():
    assert [m for m in checks.run_checks() if m.id and m.id.startswith("alerce_broker_plugin")] == []


@pytest.mark.parametrize("block, named", [
    ({"api_ur": "http://127.0.0.1:8001"}, "unknown keys ['api_ur']"),
    ({"page_size": "many"}, "['page_size']: 'many' is not a whole number"),
    ({"timeout": "soon"}, "['timeout']: 'soon' is not a number"),
])
def test_a_broker_settings_block_that_does_not_read_is_an_error_at_start(tom_settings, block, named):
    tom_settings.DATA_SERVICES = {SERVICE_NAME: block}

    errors = messages("alerce_broker_plugin.E001")

    assert len(errors) == 1 and named in errors[0]
    with pytest.raises(SystemCheckError, match="alerce_broker_plugin.E001"):
        call_command("check")


@pytest.mark.parametrize("options, named", [
    ({"FILTERS": [{"name": "SNe", "clasifier": "stamp_classifier"}]}, "unknown keys ['clasifier']"),
    ({"FILTER": [{"name": "SNe"}]}, "unknown OPTIONS ['FILTER']"),  # tom-alertstreams drops it silently
    ({"FILTERS": [{"name": "SNe", "class_name": "SN"}]}, "class_name needs a classifier"),
    ({"DECODER": "no.such.decoder"}, "DECODER 'no.such.decoder' cannot be imported"),
])
def test_a_listener_that_would_not_start_as_meant_is_an_error_at_start(tom_settings, options, named):
    tom_settings.ALERT_STREAMS = [{"ACTIVE": True, "NAME": STREAM, "OPTIONS": {**STREAM_OPTIONS, **options}}]

    errors = messages("alerce_broker_plugin.E002")

    assert len(errors) == 1 and named in errors[0], errors


def test_an_inactive_listener_is_not_checked(tom_settings):
    tom_settings.ALERT_STREAMS = [{"ACTIVE": False, "NAME": STREAM, "OPTIONS": {"FILTER": []}}]

    assert messages("alerce_broker_plugin.E002") == []


def test_tomtoolkits_own_dataservices_app_left_in_place_is_a_warning_naming_the_replacement(monkeypatch):
    from django.apps import apps
    from tom_dataservices.apps import TomDataservicesConfig

    import tom_dataservices

    plain = TomDataservicesConfig("tom_dataservices", tom_dataservices)
    get_app_config = apps.get_app_config
    monkeypatch.setattr(apps, "get_app_config",
                        lambda label: plain if label == "tom_dataservices" else get_app_config(label))

    warnings = [m for m in checks.run_checks() if m.id == "alerce_broker_plugin.W001"]

    assert len(warnings) == 1 and "alerce_broker_plugin.apps.TomDataservices" in warnings[0].hint
