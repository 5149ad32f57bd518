"""Issue 10, acceptance 2: the observer's whole journey on the real stack.

A simulated supernova night streams into Kafka (tansu); the real worker (``alerce-classifier
run``) classifies it into its store and onto the classified topic; ``alerce-classifier serve``
answers the TOM. In a browser the observer finds a fresh SN on the SN Hunter, creates its target
(photometry and classifications on its page), records a TNS dry-run report (the TNS stand-in
configured), and fires the demo's follow-up rule at the LCO/SOAR portal stand-in. The TOM's
stream listener then reads the classified topic: the same object updates the same target.
"""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone

import pytest
import requests
from tom_dataproducts.models import PhotometryReducedDatum
from tom_observations.models import ObservationRecord
from tom_targets.models import Target

from tests.browser.conftest import log_in
from tests.browser.pagecheck import assert_page_ok, open_page
from tests.facilities.conftest import tns  # noqa: F401 (fixture: the TNS stand-in as the TOM's TNS)
from tests.facilities.lco_standin import PROPOSAL
from tests.facilities.test_followup_rules import portal  # noqa: F401 (fixture: the LCO/SOAR portal stand-in)
from tests.plugin.test_stream_kafka import IDLE_S, new_topics, stopped_when_caught_up, work
from tests.realstack import CLI, last_night, serve

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(600)]

# The night's fresh SNe lie where Palomar saw them; the rule observes from Cerro Pachon within 24 h
# of now, so which of them it can see depends on the hour the test runs. 150 alerts give 11-25
# observable fresh SNe (40 times across a year; 60 alerts gave 5-12, and at 14:22 UTC on 2026-12-01
# the stamp classifier's four confident calls among them all lay out of reach).
N_ALERTS, SEED = 150, 21


def cli(*argv: str, timeout_s: float) -> None:
    result = subprocess.run([CLI, *argv], capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, f"alerce-classifier {argv[0]} failed:\n{result.stderr[-3000:]}"


def stream_a_supernova_night(bootstrap: str, raw: str, classified: str, store: str, night: float) -> None:
    """The simulator produces the night onto ``raw``; the worker consumes it until it is done."""
    cli("simulate", "--n-alerts", str(N_ALERTS), "--seed", str(SEED), "--class-mix", "SN=1",
        "--start-mjd", f"{night:.1f}", "--bootstrap-servers", bootstrap, "--topic", raw, timeout_s=120)
    work([CLI, "--log-level", "WARNING", "run", "--bootstrap-servers", bootstrap, "--topic", raw,
          "--output-topic", classified, "--db", store, "--fast-group"], bootstrap, raw, timeout_s=300)


def observable_sn(api_url: str, rule) -> str:
    """A fresh SN of the night that the rule's site can observe in its window."""
    from alerce_contract.mjd import now_mjd
    from facilities.followup.trigger import rule_observer
    from facilities.followup.visibility import first_window

    items = requests.get(f"{api_url}/ztf/v1/objects", timeout=30, params={
        "classifier": "stamp_classifier", "class": "SN", "ranking": 1, "probability": rule.min_probability,
        "firstmjd": [now_mjd() - 1.5, now_mjd()], "page_size": 100}).json()["items"]
    observer = rule_observer(rule)
    for item in items:
        if item["meandec"] < (rule.max_dec or 90) and first_window(
                observer, item["meanra"], item["meandec"], start=datetime.now(timezone.utc), hours=rule.window_hours,
                max_airmass=rule.max_airmass, sun_altitude_deg=rule.sun_altitude_deg,
                min_minutes=rule.min_window_minutes):
            return item["oid"]
    pytest.fail(f"none of the night's {len(items)} fresh SNe is observable from {rule.site}")


def test_a_streamed_supernova_is_hunted_imported_reported_and_followed_up(
        tansu, tmp_path, settings, browser_context, seen, observer, live_server, portal, tns):
    from django.core.cache import cache

    from alerce_broker_plugin.stream import ClassifiedAlertStream
    from alerce_contract.mjd import now_mjd
    from classifier_service.stream.tansu import FAST_CONSUMER_SETTINGS
    from example_tom.demo import seed_followup_rule
    from facilities.models import FollowupTrigger, TNSReport
    from tom_alerce.models import TargetClassification

    store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    raw, classified = new_topics(tansu.bootstrap_servers, "ztf-night", "classified")
    stream_a_supernova_night(tansu.bootstrap_servers, raw, classified, store, last_night(now_mjd()))

    rule = seed_followup_rule()
    rule.dry_run = False  # the demo's rule, for real against the portal stand-in
    rule.template = {**rule.template, "proposal": PROPOSAL}
    rule.save()
    with serve(store, tmp_path / "serve.log") as api_url:
        settings.DATA_SERVICES = {**settings.DATA_SERVICES, "ALeRCEBroker": {"api_url": api_url}}
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "journey"}}
        settings.MEDIA_ROOT = str(tmp_path / "media")
        cache.clear()
        oid = observable_sn(api_url, rule)

        page = browser_context.new_page()
        log_in(page, live_server.url, observer)

        # The SN Hunter lists it; "Create target" imports it.
        open_page(page, seen, f"{live_server.url}/alerce/sn-hunter/?hours=36&limit=100")
        card = page.locator(f".sn-candidate[data-oid='{oid}']")
        card.wait_for()
        card.locator("button:has-text('Create target')").click()
        page.wait_for_selector("#alerce.tab-pane.active")
        target = Target.objects.get(name=oid)
        assert PhotometryReducedDatum.objects.filter(target=target, brightness__isnull=False).exists()
        assert TargetClassification.objects.filter(target=target, classifier_name="stamp_classifier").exists()
        page.wait_for_selector("#alerce-panel .js-plotly-plot")  # its light curve and class bars, drawn
        assert_page_ok(page, seen)

        # A TNS report, dry run: built, recorded, not sent.
        open_page(page, seen, f"{live_server.url}/targets/{target.pk}/?tab=tns")
        if not page.is_checked("#id_dry_run"):
            page.check("#id_dry_run")
        page.click("#tns-report-button")
        page.wait_for_selector("#tns-reports tr.tns-report[data-status='dry_run']")
        report = TNSReport.objects.get(target=target)
        assert report.status == TNSReport.Status.DRY_RUN and report.payload
        assert tns.state.reports == {} and tns.state.uploads == []  # nothing reached TNS

        # The demo's follow-up rule fires at the portal.
        open_page(page, seen, f"{live_server.url}/facilities/followup/{target.pk}/")
        assert page.locator("button.fire-rule").count() == 1, page.inner_text("body")[-1500:]
        page.click("button.fire-rule")
        page.wait_for_load_state("networkidle")
        trigger = FollowupTrigger.objects.get(rule=rule, target=target)
        assert trigger.status == FollowupTrigger.Status.SUBMITTED, trigger.detail
        assert ObservationRecord.objects.filter(target=target, facility="SOAR").exists()
        assert [group["requests"][0]["configurations"][0]["target"]["name"] for group in portal.state.submitted] \
            == [oid]
        assert_page_ok(page, seen)

    # The TOM's listener reads the classified stream: the night's SNe arrive, this one stays one target.
    stream = ClassifiedAlertStream(BOOTSTRAP_SERVERS=tansu.bootstrap_servers, TOPIC=classified, GROUP_ID="tom",
                                   CONSUMER_CONFIG=FAST_CONSUMER_SETTINGS, MAX_BACKOFF_S=1.0)
    with stopped_when_caught_up(tansu.bootstrap_servers, "tom", classified, stream.stop):
        report = stream.listen(stop_after_idle_s=IDLE_S)
    assert report.messages > 0
    assert Target.objects.filter(name=oid).count() == 1 and Target.objects.count() > 1
