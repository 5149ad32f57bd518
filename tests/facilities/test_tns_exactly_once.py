"""TNS exactly once: whatever a night does to an upload, a target is reported at most once,
no report stays open, and the API key shows up in no log, page or exception."""
from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter
from tom_targets.models import Target

from facilities.models import TNSReport
from facilities.tns import service
from facilities.tns.client import ReportOutcomeUnknown, TNSClient
from .candidates import make_candidate
from .tns_standin import API_KEY, FAILURES

pytestmark = pytest.mark.django_db
Status = TNSReport.Status
STORED_BUT_UNANSWERED = ["non_json_200", "no_id_200", "reset_mid_body", "trickle", "504_after_store"]


@pytest.fixture
def client(tns) -> TNSClient:
    client = service.client_from_settings()
    client.deadline_s = 1.0
    client.sleep = lambda seconds: None
    return client


def later(seconds: float = 3600):
    """``tns_poll`` run this much later than now (past every grace period)."""
    return service._now() + timedelta(seconds=seconds)


@pytest.mark.parametrize("failure", STORED_BUT_UNANSWERED)
def test_an_upload_tns_stored_but_did_not_acknowledge_is_never_sent_again(tns, client, failure, caplog):
    tns.state.process_at_once = False  # TNS has the report but has not processed it yet
    tns.state.upload_failures = [failure]
    name = f"ZTF26aaa{FAILURES.index(failure)}xxx"
    target = make_candidate(name)

    report = service.submit_report(target, client=client, poll_interval_s=0)

    assert report.status == Status.OUTCOME_UNKNOWN
    assert service.submit_report(target, client=client).pk == report.pk  # a resubmit sends nothing
    assert service.poll_pending(client) and report.__class__.objects.get(pk=report.pk).status == Status.OUTCOME_UNKNOWN
    tns.process_all()
    service.poll_pending(client)
    report.refresh_from_db()
    assert report.status == Status.ACCEPTED and report.iau_name.startswith("AT 2026")
    assert tns.state.uploads == [name]
    assert API_KEY not in caplog.text and API_KEY not in report.error


def test_a_trickled_reply_is_abandoned_at_the_overall_deadline_not_per_read(tns, client):
    tns.state.upload_failures = ["trickle"]
    tns.state.trickle_interval_s = 0.2  # each byte well within a read time-out, the whole far beyond the deadline
    report = service.submit_report(make_candidate("ZTF26aaatrick"), client=client, poll_interval_s=0)
    assert report.status in (Status.OUTCOME_UNKNOWN, Status.ACCEPTED)  # settled by a search, not by the reply
    assert "deadline" in report.error or report.status == Status.ACCEPTED
    assert tns.state.trickle_bytes_written < 20  # the client hung up long before the reply's ~70 bytes


def test_an_upload_that_never_arrived_is_settled_by_a_search_and_may_then_be_sent_once(tns, client):
    tns.state.upload_failures = ["lost"]
    target = make_candidate("ZTF26aaalostx")

    report = service.submit_report(target, client=client, poll_interval_s=0)
    assert report.status == Status.OUTCOME_UNKNOWN and tns.state.uploads == []
    service.poll_pending(client, now=later())
    report.refresh_from_db()
    assert report.status == Status.NOT_RECEIVED and "never arrived" in report.error

    again = service.submit_report(target, client=client, poll_interval_s=0)
    assert again.pk != report.pk and again.status == Status.ACCEPTED
    assert tns.state.uploads == ["ZTF26aaalostx"]


def test_a_report_left_sending_by_a_dead_process_is_settled_by_tns_poll(tns, client):
    arrived, lost = make_candidate("ZTF26aaadead1", ra=30.0), make_candidate("ZTF26aaadead2", ra=60.0)
    for target in (arrived, lost):
        TNSReport.objects.create(target=target, internal_name=target.name, mode="manual",
                                 payload=service.build_report(target), status=Status.SENDING)
    tns.state.process_at_once = True
    tns._store(service.build_report(arrived))  # the dead process's upload of `arrived` did reach TNS

    service.poll_pending(client, now=later(service.SENDING_STALE_S + 1))
    service.poll_pending(client, now=later(service.SENDING_STALE_S + service.UNKNOWN_GRACE_S + 2))

    statuses = {r.internal_name: r.status for r in TNSReport.objects.all()}
    assert statuses == {"ZTF26aaadead1": Status.ACCEPTED, "ZTF26aaadead2": Status.NOT_RECEIVED}
    assert not TNSReport.objects.filter(status=Status.SENDING).exists()


def test_a_sent_report_whose_reply_never_comes_is_settled_by_a_search_after_a_day(tns, client):
    """A report whose reply TNS never processes does not stay "sent", blocking its target, for
    ever: a day on, TNS is searched for the object (here it has it, under its name)."""
    tns.state.replies_before_processed = 10**6
    target = make_candidate("ZTF26aaanoreply")
    report = service.submit_report(target, client=client, poll_interval_s=0)
    assert report.status == Status.SENT

    service.poll_pending(client, now=later(service.REPLY_TIMEOUT_S - 60))
    report.refresh_from_db()
    assert report.status == Status.SENT
    service.poll_pending(client, now=later(service.REPLY_TIMEOUT_S + 1))
    report.refresh_from_db()
    assert report.status == Status.OUTCOME_UNKNOWN and "had not processed report" in report.error
    service.poll_pending(client, now=later(service.REPLY_TIMEOUT_S + 2))
    report.refresh_from_db()
    assert report.status == Status.ACCEPTED and report.iau_name.startswith("AT ")
    assert tns.state.uploads == ["ZTF26aaanoreply"]


def test_a_night_of_every_failure_reports_every_target_at_most_once_and_leaves_nothing_open(tns, client, caplog):
    """Thirteen targets, one failure each where there is one, resubmitted and polled as a busy night would."""
    tns.state.process_at_once = False
    failures = [*FAILURES, *[None] * 6]
    targets = [make_candidate(f"ZTF26aanit{i:02d}", ra=10.0 + 5 * i) for i in range(len(failures))]
    for target, failure in zip(targets, failures):
        tns.state.upload_failures = [failure] if failure else []
        service.submit_report(target, client=client, poll_attempts=1, poll_interval_s=0)
        service.submit_report(target, client=client, poll_attempts=0)  # an impatient second click
    tns.state.upload_failures = []
    service.poll_pending(client)
    tns.process_all()
    for hours in (1, 2, 3):  # tns_poll every hour, with a fresh client (a new process) each time
        fresh = service.client_from_settings()
        fresh.sleep = lambda seconds: None
        service.poll_pending(fresh, now=later(3600 * hours))
        tns.process_all()
        for target in targets:  # resubmitting whatever TNS never got
            service.submit_report(Target.objects.get(pk=target.pk), client=fresh, poll_attempts=0)

    counts = Counter(tns.state.uploads)
    assert set(counts.values()) == {1} and len(counts) == len(targets)
    assert not TNSReport.objects.filter(status__in=[Status.SENDING, Status.QUEUED, Status.OUTCOME_UNKNOWN]).exists()
    assert API_KEY not in caplog.text
    assert not any(API_KEY in r.error for r in TNSReport.objects.all())


@pytest.mark.django_db(transaction=True)
def test_two_processes_reporting_the_same_target_at_once_upload_it_once(tns):
    target = make_candidate("ZTF26aaatwins")
    start = threading.Barrier(2)
    outcomes = []

    def report_it() -> None:  # a thread has its own database connection, as another process would
        client = service.client_from_settings()
        client.sleep = lambda seconds: None
        start.wait()
        try:
            for _ in range(100):
                try:
                    outcomes.append(service.submit_report(Target.objects.get(pk=target.pk), client=client,
                                                          poll_attempts=0).pk)
                    return
                except OperationalError as exc:  # the shared in-memory SQLite of the tests locks whole
                    if "locked" not in str(exc):  # tables; submitting again is safe by design
                        raise
                    time.sleep(0.02)
        finally:
            connection.close()

    threads = [threading.Thread(target=report_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    service.poll_pending(service.client_from_settings())  # whatever a lock left queued

    assert tns.state.uploads == ["ZTF26aaatwins"]
    assert len(outcomes) == 2 and len(set(outcomes)) == 1
    assert TNSReport.objects.filter(target_id=target.pk).count() == 1


def test_the_key_is_in_no_exception_traceback_or_debug_page(tns, client, rf):
    tns.state.upload_failures = ["reset_mid_body"]
    with pytest.raises(ReportOutcomeUnknown) as caught:
        client.send_report({"at_report": {"0": {"internal_name": "x", "ra": {"value": "1"}, "dec": {"value": "1"}}}})
    exc = caught.value
    text = "".join(traceback.format_exception(exc))
    frames = [repr(frame.f_locals) for frame, _ in traceback.walk_tb(exc.__traceback__)]
    page = ExceptionReporter(rf.post("/"), type(exc), exc, exc.__traceback__).get_traceback_html()
    assert API_KEY not in text and not any(API_KEY in f for f in frames) and API_KEY not in page
    assert tns.state.forms and API_KEY in tns.state.forms[-1]  # it was sent, to TNS only


@pytest.mark.parametrize("failure", ["reset_mid_body", "long_429"])
def test_the_report_button_answers_at_once_with_what_happened(client, tns, settings, failure):
    settings.DEBUG = True  # even where a debug page could show, nothing reaches one
    staff = User.objects.create_superuser("staff", "s@example.org", "pw")
    browser = Client()
    browser.force_login(staff)
    tns.state.upload_failures = [failure]
    tns.state.process_at_once = False
    target = make_candidate("ZTF26aaabutton")

    response = browser.post(reverse("facilities:tns-report", kwargs={"pk": target.pk}))

    html = " ".join(str(message) for message in get_messages(response.wsgi_request))
    assert response.status_code == 302 and API_KEY not in html + response.content.decode()
    report = TNSReport.objects.get(target_id=target.pk)
    if failure == "long_429":
        assert report.status == Status.QUEUED and "rate limited until" in html
    else:
        assert report.status == Status.OUTCOME_UNKNOWN and "TNS may have it" in html
