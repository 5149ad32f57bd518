"""The TOM pages of facilities: the target's TNS tab and button, the reports list, Tonight, tns_poll."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from facilities.models import FollowupRule, FollowupTrigger, TNSReport
from facilities.tns import service
from facilities.views import tns_tab_context
from .candidates import make_candidate

pytestmark = pytest.mark.django_db
Status = TNSReport.Status


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("astro", "astro@example.org", "pw")
    client.force_login(user)
    return user


def test_the_target_page_has_a_tns_tab_with_the_report_preview_and_the_button(client, staff):
    target = make_candidate("ZTF26aaaaaca")

    page = client.get(reverse("tom_targets:detail", kwargs={"pk": target.pk}))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="#tns"' in html and 'id="tns-tab"' in html
    assert 'id="tns-report-button"' in html
    assert "&quot;internal_name&quot;: &quot;ZTF26aaaaaca&quot;" in html  # the payload as it would be sent
    assert "&quot;filter_value&quot;: &quot;110&quot;" in html


def test_only_users_who_may_change_the_target_see_the_button_and_may_report(client, tns):
    target = make_candidate("ZTF26aaaaacb")
    guest, owner = User.objects.create_user("guest", password="pw"), User.objects.create_user("owner", password="pw")
    target.give_user_access(owner)
    assert tns_tab_context({"target": target, "user": guest})["tns_can_report"] is False
    assert tns_tab_context({"target": target, "user": owner})["tns_can_report"] is True
    url = reverse("facilities:tns-report", kwargs={"pk": target.pk})

    assert client.post(url)["Location"].startswith("/accounts/login/")  # anonymous
    client.force_login(guest)
    assert client.post(url).status_code == 404  # a private target the guest cannot see: not revealed
    assert tns.state.uploads == [] and not TNSReport.objects.exists()

    client.force_login(owner)
    assert client.post(url).status_code == 302
    assert tns.state.uploads == ["ZTF26aaaaacb"]


def test_the_report_button_reports_once_and_renames_the_target(client, staff, tns):
    target = make_candidate("ZTF26aaaaacc")
    url = reverse("facilities:tns-report", kwargs={"pk": target.pk})

    response = client.post(url)
    client.post(url)

    assert response.status_code == 302 and response["Location"].endswith("?tab=tns")
    assert tns.state.uploads == ["ZTF26aaaaacc"]
    target.refresh_from_db()
    assert target.name == "AT 2026aaa"
    page = client.get(reverse("tom_targets:detail", kwargs={"pk": target.pk})).content.decode()
    assert 'id="tns-report-button"' not in page and "AT 2026aaa" in page


def test_a_dry_run_from_the_form_records_the_report_and_sends_nothing(client, staff, tns):
    target = make_candidate("ZTF26aaaaacd")

    client.post(reverse("facilities:tns-report", kwargs={"pk": target.pk}), {"dry_run": "on"})

    assert target.tns_reports.get().status == Status.DRY_RUN
    assert tns.state.uploads == []


def test_the_reports_page_lists_every_report_with_its_status(client, staff, tns):
    service.submit_report(make_candidate("ZTF26aaaaace"), poll_interval_s=0)
    service.submit_report(make_candidate("ZTF26aaaaacf", ra=20.0), dry_run=True)

    html = client.get(reverse("facilities:tns-reports")).content.decode()

    assert html.count('class="tns-report"') == 2
    assert 'data-status="accepted"' in html and 'data-status="dry_run"' in html and "AT 2026aaa" in html


def test_tns_poll_settles_reports_sent_without_an_answer_yet(tns, capsys):
    tns.state.replies_before_processed = 5
    report = service.submit_report(make_candidate("ZTF26aaaaacg"), poll_attempts=1, poll_interval_s=0)
    assert report.status == Status.SENT
    tns.state.replies_before_processed = 0

    call_command("tns_poll")

    report.refresh_from_db()
    assert report.status == Status.ACCEPTED and report.iau_name == "AT 2026aaa"
    assert "ZTF26aaaaacg: sent -> accepted (AT 2026aaa)" in capsys.readouterr().out


def test_the_tonight_page_lists_each_rules_candidates_windows_airmass_plots_and_firings(client, staff):
    rule = FollowupRule.objects.create(name="circumpolar SNe", facility="LCO", observation_type="IMAGING",
                                       min_probability=0.7, max_airmass=2.6, window_hours=24)
    visible = make_candidate("ZTF26aaaaach", ra=40.0, dec=-85.0)  # always up from Chile: a window every day
    make_candidate("ZTF26aaaaaci", dec=80.0)  # never up from Chile
    make_candidate("ZTF26aaaaacj", probability=0.4, ra=41.0, dec=-85.0)  # not wanted by the rule
    FollowupTrigger.objects.create(rule=rule, target=visible, status=FollowupTrigger.Status.DRY_RUN,
                                   detail="airmass 1.80 from Cerro Pachon")

    page = client.get(reverse("facilities:tonight"))

    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('class="row border-bottom py-2 followup-candidate"') == 2
    assert "ZTF26aaaaach" in html and "ZTF26aaaaaci" in html and "ZTF26aaaaacj" not in html
    assert html.count('class="visibility-window"') == 1 and html.count('class="text-warning not-observable"') == 1
    assert html.count("plotly-graph-div") == 2
    # every curve on one airmass scale, 1 at the top, whatever the target's own range, and said so
    assert html.count('"range":[3.0,1]') == 2 and 'id="tonight-legend"' in html
    assert "fired: dry run" in html and "airmass 1.80 from Cerro Pachon" in html
    assert reverse("facilities:tonight") in client.get("/").content.decode()  # the nav item


def test_the_followup_page_of_a_target_shows_each_rule_and_lets_staff_fire_one(client, staff):
    wanted = FollowupRule.objects.create(name="circumpolar SNe", facility="LCO", observation_type="IMAGING",
                                         dry_run=True, min_probability=0.7, max_airmass=2.6)
    FollowupRule.objects.create(name="AGN monitoring", facility="LCO", class_name="AGN")
    target = make_candidate("ZTF26aaaaack", ra=40.0, dec=-85.0)
    url = reverse("facilities:followup-request", kwargs={"pk": target.pk})

    html = client.get(url).content.decode()

    assert html.count('class="row border-bottom py-2 followup-candidate"') == 2
    assert "not wanted: stamp_classifier top class is not AGN" in html
    assert html.count('class="btn btn-sm btn-primary fire-rule"') == 1
    response = client.post(url, {"rule": wanted.pk})
    assert response.status_code == 302
    assert FollowupTrigger.objects.get(target=target, rule=wanted).status == FollowupTrigger.Status.DRY_RUN
    assert 'class="btn btn-sm btn-primary fire-rule"' not in client.get(url).content.decode()
