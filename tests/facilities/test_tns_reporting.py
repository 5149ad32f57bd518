"""TNS reporting against a loopback TNS: each report sent once, its status recorded, the target renamed."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facilities.models import TNSAutoReportDecision, TNSAutoReportPolicy, TNSReport
from facilities.tns import service
from facilities.tns.client import TNSClient, TNSCredentials
from .candidates import make_candidate

pytestmark = pytest.mark.django_db
Status = TNSReport.Status


@pytest.fixture
def client(tns) -> TNSClient:
    # No real waiting: rate-limit resets and back-offs are recorded instead of slept.
    client = service.client_from_settings()
    client.sleep = lambda seconds: None
    return client


def test_a_report_is_sent_once_polled_until_processed_and_the_target_renamed(tns, client):
    target = make_candidate("ZTF26aaaaaaa")
    tns.state.replies_before_processed = 1  # the first reply poll answers 404

    report = service.submit_report(target, client=client, poll_interval_s=0)

    assert report.status == Status.ACCEPTED
    assert report.iau_name == "AT 2026aaa"
    assert tns.state.uploads == ["ZTF26aaaaaaa"]
    target.refresh_from_db()
    assert target.name == "AT 2026aaa"
    assert "ZTF26aaaaaaa" in target.aliases.values_list("name", flat=True)
    assert all(agent.startswith('tns_marker{"tns_id": "123", "type": "bot", "name": "test_bot"}')
               for agent in tns.state.user_agents)


def test_a_second_request_for_the_same_target_sends_nothing(tns, client):
    target = make_candidate("ZTF26aaaaaab")
    first = service.submit_report(target, client=client, poll_interval_s=0)
    second = service.submit_report(target, client=client, poll_interval_s=0)
    assert second.pk == first.pk
    assert tns.state.uploads == ["ZTF26aaaaaab"]


def test_a_rate_limited_upload_is_queued_until_the_reset_and_then_sent_once_by_the_poller(tns, client):
    waits: list[float] = []
    client.sleep = waits.append
    tns.state.upload_failures = ["long_429"]
    report = service.submit_report(make_candidate("ZTF26aaaaaac"), client=client, poll_interval_s=0)
    assert report.status == Status.QUEUED and "rate limited until" in report.error
    assert waits == []  # nobody waited for TNS's two-minute reset
    reset = report.not_before
    assert tns.state.uploads == []

    assert service.poll_pending(client, now=reset - timedelta(seconds=5))[0].note.startswith("waiting until")
    service.poll_pending(service.client_from_settings(), now=reset + timedelta(seconds=1))  # a later tns_poll

    report.refresh_from_db()
    assert report.status == Status.SENT and tns.state.uploads == ["ZTF26aaaaaac"]


def test_a_gateway_timeout_after_tns_received_the_report_is_not_resent(tns, client):
    target = make_candidate("ZTF26aaaaaad")
    tns.state.upload_failures = ["504_after_store"]

    report = service.submit_report(target, client=client, poll_interval_s=0)

    assert tns.state.uploads == ["ZTF26aaaaaad"]  # one upload, no blind retry
    assert report.status == Status.ACCEPTED  # settled by searching TNS for our internal name
    target.refresh_from_db()
    assert target.name == report.iau_name
    assert service.submit_report(target, client=client).pk == report.pk
    assert tns.state.uploads == ["ZTF26aaaaaad"]


def test_a_rejected_report_is_recorded_with_the_feedback(tns, client):
    target = make_candidate("ZTF26aaaaaae")
    tns.state.reject_internal_names.add("ZTF26aaaaaae")
    report = service.submit_report(target, client=client, poll_interval_s=0)
    assert report.status == Status.REJECTED
    assert report.feedback and "ra" in report.feedback[0]
    target.refresh_from_db()
    assert target.name == "ZTF26aaaaaae"


def test_an_object_tns_already_knows_by_our_name_is_not_reported_again(tns, client):
    tns.known("ZTF26aaaaaaf", ra=100.0, dec=10.0, prefix="SN", objname="2026xyz")
    target = make_candidate("ZTF26aaaaaaf")
    report = service.submit_report(target, client=client)
    assert report.status == Status.ALREADY_ON_TNS
    assert tns.state.uploads == []
    target.refresh_from_db()
    assert target.name == "SN 2026xyz"


def test_wrong_credentials_fail_clearly_without_leaking_the_key(tns, caplog):
    bad = TNSClient(tns.url, TNSCredentials("123", "test_bot", "wrong-key"), sleep=lambda s: None)
    report = service.submit_report(make_candidate("ZTF26aaaaaag"), client=bad)
    assert report.status == Status.FAILED and "401" in report.error
    assert "wrong-key" not in caplog.text and "wrong-key" not in report.error
    assert "wrong-key" not in repr(bad.credentials) and "wrong-key" not in str(bad.credentials.api_key)


def test_the_automatic_policy_reports_good_candidates_and_logs_every_decision(tns):
    policy = TNSAutoReportPolicy.objects.create(name="young SNe", dry_run=False, min_probability=0.8,
                                                min_detections=2, max_magnitude=20.0, daily_cap=1)
    from facilities.tns.policy import apply_policies

    good = make_candidate("ZTF26aaaaaah", probability=0.95)
    weak = make_candidate("ZTF26aaaaaai", probability=0.5, ra=10.0)
    capped = make_candidate("ZTF26aaaaaaj", probability=0.97, ra=20.0)
    for target in (good, weak, capped):
        apply_policies(target)

    decisions = {d.target.name: d for d in TNSAutoReportDecision.objects.filter(policy=policy)}
    assert tns.state.uploads == ["ZTF26aaaaaah"]
    assert decisions["ZTF26aaaaaai"].report is False and "0.50 < 0.80" in decisions["ZTF26aaaaaai"].reason
    assert decisions["ZTF26aaaaaaj"].report is False and "daily cap" in decisions["ZTF26aaaaaaj"].reason
    assert policy.decisions.filter(report=True).count() == 1


def test_a_dry_run_policy_decides_and_logs_but_sends_nothing(tns):
    TNSAutoReportPolicy.objects.create(name="dry", dry_run=True, min_probability=0.5, max_magnitude=21)
    from facilities.tns.policy import apply_policies

    target = make_candidate("ZTF26aaaaaak")
    (decision,) = apply_policies(target)
    assert decision.report is True and "dry run" in decision.reason
    assert tns.state.uploads == []
    assert target.tns_reports.get().status == Status.DRY_RUN


def test_credentials_come_from_data_services_tns_as_tom_tns_reads_them_and_the_environment_overrides(
        settings, monkeypatch):
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "TNS": {
        "api_key": "settings-key", "bot_id": "1", "bot_name": "settings_bot",
        "tns_base_url": "https://sandbox.wis-tns.org/api", "group_names": ["ALeRCE"]}}
    assert service.tns_settings()["base_url"] == "https://sandbox.wis-tns.org"  # tom-tns's spelling, /api off
    assert "api_key" not in service.tns_settings()
    assert service.credentials().bot_name == "settings_bot"

    monkeypatch.setenv("TNS_BOT_NAME", "env_bot")
    monkeypatch.setenv("TNS_API_KEY", "env-key")
    credentials = service.credentials()
    assert credentials.bot_name == "env_bot" and credentials.api_key.reveal() == "env-key"
    assert "env-key" not in repr(credentials) and not hasattr(settings, "TNS")
