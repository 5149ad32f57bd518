"""The TNS tab as an observer uses it: the built report as editable defaults, edits reach the
report, bad input is refused with the reason, and the destination is said before sending."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from facilities.forms import TNSReportForm, initial_from
from facilities.models import TNSReport
from facilities.tns import service
from facilities.views import tns_tab_context
from .candidates import make_candidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("astro", "astro@example.org", "pw"))


def test_the_built_report_round_trips_through_the_form_unchanged():
    built = service.build_report(make_candidate("ZTF26aaaform1"))
    form = TNSReportForm(initial_from(built, dry_run=True))

    assert form.is_valid(), form.errors
    assert form.edited(built) == built and form.cleaned_data["dry_run"] is True


def test_an_observers_edits_reach_the_report_and_nothing_else_changes():
    built = service.build_report(make_candidate("ZTF26aaaform2"))
    data = {**initial_from(built, dry_run=False), "reporter": "A. Observer (ALeRCE)", "remarks": "Blue, rising.",
            "host_name": "WISEA J100024.00-201200.0", "host_redshift": "0.031",
            "nd_obsdate": "2026-02-23 04:48:00.000", "nd_limiting_flux": "20.9", "nd_filter": "111"}
    form = TNSReportForm(data)
    assert form.is_valid(), form.errors

    report = form.edited(built)["at_report"]["0"]

    assert (report["reporter"], report["remarks"]) == ("A. Observer (ALeRCE)", "Blue, rising.")
    assert (report["host_name"], report["host_redshift"]) == ("WISEA J100024.00-201200.0", "0.031")
    assert report["non_detection"]["obsdate"] == "2026-02-23 04:48:00.000"
    assert (report["non_detection"]["limiting_flux"], report["non_detection"]["filter_value"]) == ("20.9", "111")
    assert report["non_detection"]["instrument_value"] == "196"  # kept from the built report
    assert report["photometry"] == built["at_report"]["0"]["photometry"]


@pytest.mark.parametrize("field, value, reason", [
    ("discovery_datetime", "25/02/2026", "YYYY-MM-DD HH:MM:SS.fff"),
    ("host_redshift", "about 0.03", "A redshift is a number"),
    ("nd_limiting_flux", "", "needs its limiting magnitude"),
])
def test_bad_fields_are_refused_with_the_reason(field, value, reason):
    built = service.build_report(make_candidate("ZTF26aaaform3"))
    form = TNSReportForm({**initial_from(built, dry_run=False), field: value})

    assert not form.is_valid()
    assert reason in " ".join(form.errors[field])


def test_the_tab_says_where_reports_go_and_that_credentials_are_missing(settings):
    settings.DATA_SERVICES = {**settings.DATA_SERVICES, "TNS": {"base_url": "https://sandbox.wis-tns.org",
                                                                 "dry_run_default": True}}
    target = make_candidate("ZTF26aaaform4")
    context = tns_tab_context({"target": target, "user": User.objects.create_superuser("s", "s@e.org", "pw")})

    assert context["tns_destination"]["kind"] == "sandbox"
    assert "api_key" in context["tns_destination"]["credentials_missing"]
    assert 'checked' in str(context["tns_form"]["dry_run"])  # ticked by default where the settings say so


def test_an_edited_dry_run_is_recorded_as_edited_and_sends_nothing(client, staff, tns):
    target = make_candidate("ZTF26aaaform5")
    built = service.build_report(target)
    post = {**initial_from(built, dry_run=True), "remarks": "Checked by eye."}

    client.post(reverse("facilities:tns-report", kwargs={"pk": target.pk}), post)

    report = target.tns_reports.get()
    assert report.status == TNSReport.Status.DRY_RUN and tns.state.uploads == []
    assert report.payload["at_report"]["0"]["remarks"] == "Checked by eye."


def test_an_invalid_form_sends_nothing_and_says_why(client, staff, tns):
    target = make_candidate("ZTF26aaaform6")
    post = {**initial_from(service.build_report(target), dry_run=False), "discovery_datetime": "yesterday"}

    page = client.post(reverse("facilities:tns-report", kwargs={"pk": target.pk}), post, follow=True)

    assert not target.tns_reports.exists() and tns.state.uploads == []
    assert "The TNS report was not sent: Discovery time" in page.content.decode()
