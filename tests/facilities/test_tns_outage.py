"""A TNS outage does not stall the stream: after one automatic report finds TNS failing, the
alerts of a cool-down ask TNS nothing and their decisions say why and until when; then one
alert tries TNS again. A refusal of one report is TNS answering, not an outage."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.urls import reverse
from tom_targets.models import Target

from facilities.hooks import on_alert_received
from facilities.models import TNSAutoReportDecision, TNSAutoReportPolicy, TNSOutage, TNSReport
from facilities.tns import breaker, service
from .candidates import make_candidate, ztf_alert
from .tns_standin import OUTAGES

pytestmark = pytest.mark.django_db
Status = TNSReport.Status
COOLDOWN_S = 600
# How the client says TNS failed, by the stand-in's outages.
WHY = {"503": "POST /api/get/search: HTTP 503", "429": "POST /api/get/search: rate limited until",
       "reset": "POST /api/get/search: ConnectionError", "hang": "POST /api/get/search: ReadTimeout"}


@pytest.fixture(autouse=True)
def tns_settings(tns, settings) -> dict:
    """One second per TNS call (a hang costs that much, once) and a ten-minute cool-down."""
    conf = settings.DATA_SERVICES["TNS"]
    conf.update(deadline_s=1, outage_cooldown_s=COOLDOWN_S)
    return conf


def alert(target: Target) -> None:
    """The stream listener's hook on a fresh alert of the target."""
    on_alert_received(target=Target.objects.get(pk=target.pk), alert=ztf_alert(target.name))


def candidates(prefix: str, n: int) -> list[Target]:
    return [make_candidate(f"ZTF26{prefix}{i:02d}", ra=10.0 + 20 * i) for i in range(n)]


def the_cool_down_passes() -> None:
    """As if TNS had failed an hour earlier than it did."""
    hour = timedelta(hours=1)
    TNSOutage.objects.update(failed_at=F("failed_at") - hour, retry_at=F("retry_at") - hour)


def utc(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.parametrize("outage", OUTAGES)
def test_after_tns_fails_one_automatic_report_the_alerts_of_the_cool_down_ask_tns_nothing_and_say_why(
        policy, tns, outage):
    tns.state.outage = outage
    first, *others = candidates("aout", 4)

    before = datetime.now(timezone.utc)
    alert(first)
    after = datetime.now(timezone.utc)

    assert len(tns.state.forms) == 1 and tns.state.uploads == []  # one try, nothing sent
    assert first.tns_reports.get().status == (Status.QUEUED if outage == "429" else Status.FAILED)
    down = TNSOutage.objects.get(base_url=tns.url)
    assert before <= down.failed_at <= after and down.reason.startswith(WHY[outage])
    assert down.retry_at == down.failed_at + timedelta(seconds=COOLDOWN_S)

    for target in others * 2:  # a busy night: two alerts each
        alert(target)

    assert len(tns.state.forms) == 1  # not one more request: the listener was not held up
    waits = TNSAutoReportDecision.objects.filter(target__in=others)
    assert waits.count() == 6 and not waits.filter(report=True).exists()
    for decision in waits:
        assert decision.reason.startswith(f"not sent, TNS outage: TNS failed at {utc(down.failed_at)} ({WHY[outage]}")
        assert f"automatic reports try it again from {utc(down.retry_at)}" in decision.reason
        assert "this target is reconsidered on its next alert after that" in decision.reason
        assert decision.reason.endswith("(it qualifies: SN with P = 0.93, 3 detections, mag 19.50)")
    assert not TNSReport.objects.filter(target__in=others).exists()


def test_after_the_cool_down_one_alert_tries_tns_again_and_once_tns_is_back_every_target_is_reported(
        policy, tns):
    tns.state.outage = "503"
    first, waiting = candidates("aback", 2)
    alert(first)
    alert(waiting)
    failed_first = TNSOutage.objects.get().failed_at

    the_cool_down_passes()
    alert(waiting)  # TNS still down: one more try, and a new cool-down
    alert(first)
    assert len(tns.state.forms) == 2
    assert TNSOutage.objects.get().failed_at > failed_first

    tns.state.outage = None
    the_cool_down_passes()
    alert(waiting)
    alert(first)  # the breaker closed: reported at once

    assert tns.state.uploads == [waiting.name, first.name]
    assert [t.tns_reports.first().status for t in (waiting, first)] == [Status.ACCEPTED, Status.ACCEPTED]
    assert not TNSOutage.objects.exists()


@pytest.mark.parametrize("refused, status", [("bad_request_400", Status.FAILED), ("in_feedback", Status.REJECTED)])
def test_tns_refusing_one_report_is_no_outage_and_the_next_alert_is_reported(policy, tns, refused, status):
    refused_target, next_target = candidates("arefu", 2)
    if refused == "bad_request_400":  # the upload refused outright
        tns.state.upload_failures = ["bad_request_400"]
    else:  # accepted for processing, then rejected with feedback on a field
        tns.state.reject_internal_names.add(refused_target.name)

    alert(refused_target)
    alert(next_target)

    assert refused_target.tns_reports.get().status == status
    assert not TNSOutage.objects.exists()
    assert next_target.tns_reports.get().status == Status.ACCEPTED and next_target.name in tns.state.uploads


def test_a_report_by_hand_is_still_sent_during_the_cool_down_and_the_tab_says_tns_is_failing(policy, tns, client):
    tns.state.outage = "503"
    automatic, by_hand = candidates("ahand", 2)
    alert(automatic)
    down = TNSOutage.objects.get()

    notice = (f"TNS failed at {utc(down.failed_at)} ({down.reason}); automatic reports "
              f"try it again from {utc(down.retry_at)}. A report made here is still sent.")
    assert breaker.outage_notice() == notice
    client.force_login(User.objects.create_superuser("astro", "astro@example.org", "pw"))
    tab = client.get(reverse("tom_targets:detail", kwargs={"pk": by_hand.pk})).content.decode()
    assert f'id="tns-outage">Automatic reports are waiting out a TNS outage: {notice}</p>' in tab
    tns.state.outage = None
    assert service.submit_report(by_hand).status == Status.ACCEPTED  # a person asked: tried, whatever the breaker
    assert TNSOutage.objects.get().retry_at == down.retry_at  # and the automatic mode still waits it out
    alert(automatic)
    assert tns.state.uploads == ["ZTF26ahand01"]


def test_after_the_cool_down_one_process_tries_tns_again_while_the_others_keep_waiting(tns):
    now = datetime.now(timezone.utc)
    TNSOutage.objects.create(base_url=tns.url, failed_at=now - timedelta(hours=1), retry_at=now - timedelta(minutes=1),
                             reason="POST /api/get/search: HTTP 503")

    assert breaker.outage_to_wait_out() is None  # this listener claims the try
    still_down = breaker.outage_to_wait_out()  # another listener or worker, meanwhile
    assert still_down is not None and still_down.retry_at >= now + timedelta(seconds=COOLDOWN_S)  # a new cool-down


def test_a_dry_run_policy_decides_during_an_outage_as_ever(tns):
    TNSAutoReportPolicy.objects.create(name="dry", dry_run=True, min_probability=0.5, max_magnitude=21)
    now = datetime.now(timezone.utc)
    TNSOutage.objects.create(base_url=tns.url, failed_at=now, retry_at=now + timedelta(hours=1), reason="HTTP 503")
    (target,) = candidates("adry", 1)

    alert(target)

    (decision,) = TNSAutoReportDecision.objects.filter(target=target)
    assert decision.report is True and "dry run" in decision.reason and tns.state.forms == []


def test_an_upload_tns_does_not_acknowledge_opens_the_breaker_and_is_still_settled_once(policy, tns):
    tns.state.upload_failures = ["504_after_store"]
    uploaded, next_target = candidates("aupld", 2)

    alert(uploaded)
    alert(next_target)

    assert uploaded.tns_reports.get().status == Status.ACCEPTED  # found by the search that settles it
    assert TNSOutage.objects.get().reason == "POST /api/set/bulk-report: HTTP 504"
    assert not next_target.tns_reports.exists() and tns.state.uploads == [uploaded.name]
