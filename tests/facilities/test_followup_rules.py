"""Follow-up rules against a loopback LCO/SOAR portal: fire for what is observable, never twice.

Submission goes through tomtoolkit's own LCOFacility/SOARFacility forms, which talk to the
stand-in exactly as they talk to observe.lco.global. ``NOW`` is fixed: 2026-03-15 18:00 UTC,
an afternoon in Chile; a target at RA 10h, Dec -20 is up from Cerro Pachón all the next night.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from tom_observations.models import ObservationRecord

from facilities.followup.trigger import fire_rules, select
from facilities.hooks import on_alert_received
from facilities.models import FollowupRule, FollowupTrigger
from facilities.target_facts import TargetFacts
from facilities.tns.report import PhotometryPoint
from .candidates import make_candidate
from .lco_standin import API_TOKEN, PROPOSAL, LCOPortalStandIn

pytestmark = pytest.mark.django_db
Status = FollowupTrigger.Status
NOW = datetime(2026, 3, 15, 18, 0, tzinfo=timezone.utc)

LCO_IMAGING = {
    "proposal": PROPOSAL, "ipp_value": 1.05, "observation_mode": "NORMAL", "optimization_type": "AIRMASS",
    "configuration_repeats": 1, "instrument_type": "1M0-SCICAM-SINISTRO", "c_1_configuration_type": "EXPOSE",
    "c_1_guide_mode": "ON", "c_1_ic_1_readout_mode": "full_frame", "filter": "rp", "exposure_time": 300,
    "exposure_count": 2,
}
SOAR_IMAGING = {**LCO_IMAGING, "instrument_type": "SOAR_GHTS_REDCAM_IMAGER", "c_1_ic_1_readout_mode": "GHTS_R_2x2",
                "filter": "r-SDSS"}


@pytest.fixture
def portal(settings):
    with LCOPortalStandIn() as standin:
        settings.FACILITIES = {name: {"portal_url": standin.url, "api_key": API_TOKEN} for name in ("LCO", "SOAR")}
        settings.TOM_FACILITY_CLASSES = ["tom_observations.facilities.lco.LCOFacility",
                                         "tom_observations.facilities.soar.SOARFacility"]
        # the facility forms cache instruments and proposals: keep them per test, not in var/cache
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "facilities-tests"}}
        yield standin


def lco_rule(**overrides) -> FollowupRule:
    fields = dict(name="young SNe with LCO", facility="LCO", observation_type="IMAGING", template=LCO_IMAGING,
                  site="Cerro Pachon", classifier_name="stamp_classifier", class_name="SN", min_probability=0.7,
                  window_hours=24, max_airmass=2.0, nightly_budget=5)
    return FollowupRule.objects.create(**{**fields, **overrides})


def test_a_rule_fires_for_an_observable_sn_candidate_and_records_the_portals_request(portal):
    rule = lco_rule()
    target = make_candidate("ZTF26aaaaaba")

    (trigger,) = fire_rules(target, now=NOW)

    assert trigger.status == Status.SUBMITTED
    assert trigger.window_start >= NOW and trigger.window_end > trigger.window_start
    record = ObservationRecord.objects.get(target=target)
    assert trigger.observation_record == record
    assert (record.facility, record.observation_id) == ("LCO", "3500000")  # the portal's request id
    (sent,) = portal.state.submitted
    assert sent["proposal"] == PROPOSAL and sent["observation_type"] == "NORMAL"
    (request,) = sent["requests"]
    assert request["location"] == {"telescope_class": "1m0"}
    assert request["windows"] == [{"start": trigger.window_start.isoformat(), "end": trigger.window_end.isoformat()}]
    (configuration,) = request["configurations"]
    assert configuration["target"]["ra"] == target.ra and configuration["target"]["dec"] == target.dec
    assert configuration["constraints"]["max_airmass"] == rule.max_airmass
    assert configuration["instrument_configs"][0]["optical_elements"] == {"filter": "rp"}
    assert configuration["instrument_configs"][0]["exposure_count"] == 2
    assert portal.state.validated, "the form validates at the portal before submitting"
    assert set(portal.state.authorizations) == {f"Token {API_TOKEN}"}


def test_a_rule_does_not_fire_for_a_target_below_the_horizon_all_window(portal):
    lco_rule()
    target = make_candidate("ZTF26aaaaabb", dec=80.0)  # never rises at Cerro Pachón

    assert fire_rules(target, now=NOW) == []

    assert not FollowupTrigger.objects.exists()
    assert portal.state.submitted == [] and portal.state.validated == []


def test_a_rule_never_fires_twice_for_the_same_target(portal):
    lco_rule()
    target = make_candidate("ZTF26aaaaabc")

    assert len(fire_rules(target, now=NOW)) == 1
    assert fire_rules(target, now=NOW) == []
    assert fire_rules(target, now=NOW.replace(day=16)) == []

    assert len(portal.state.submitted) == 1
    assert ObservationRecord.objects.filter(target=target).count() == 1


def test_the_stream_hook_fires_the_rules_once_however_often_the_target_is_updated(portal):
    # Dec -85 is circumpolar and always within airmass 2.6 from Chile: observable whatever the real time.
    lco_rule(max_airmass=2.6)
    target = make_candidate("ZTF26aaaaabd", ra=40.0, dec=-85.0)

    on_alert_received(target, alert={}, created=True)
    on_alert_received(target, alert={}, created=False)

    assert FollowupTrigger.objects.get(target=target).status == Status.SUBMITTED
    assert len(portal.state.submitted) == 1


def test_the_stream_hook_spends_no_telescope_time_on_a_known_asteroid(portal):
    lco_rule(max_airmass=2.6)
    target = make_candidate("ZTF26aaaaabe", ra=40.0, dec=-85.0)

    on_alert_received(target, alert={"objectId": target.name, "ssnamenr": "2004 XR14", "ssdistnr": 0.4},
                      created=True)

    assert not FollowupTrigger.objects.filter(target=target).exists() and portal.state.submitted == []


def test_the_nightly_budget_limits_the_requests_of_a_rule_per_night(portal):
    lco_rule(nightly_budget=2)
    targets = [make_candidate(f"ZTF26aaaaac{i}", ra=150.0 + i) for i in range(3)]

    fired = [trigger for target in targets for trigger in fire_rules(target, now=NOW)]

    assert len(fired) == 2 and len(portal.state.submitted) == 2
    assert not FollowupTrigger.objects.filter(target=targets[2]).exists()  # it waits for another night


def test_a_dry_run_rule_records_what_it_would_request_and_submits_nothing(portal):
    lco_rule(dry_run=True)
    target = make_candidate("ZTF26aaaaabe")

    (trigger,) = fire_rules(target, now=NOW)

    assert trigger.status == Status.DRY_RUN and trigger.window_start is not None
    assert portal.state.submitted == [] and not ObservationRecord.objects.exists()
    assert fire_rules(target, now=NOW) == []  # a dry run also counts as having fired


def test_a_request_the_portal_refuses_is_recorded_and_may_be_retried(portal):
    lco_rule()
    target = make_candidate("ZTF26aaaaabf")
    portal.state.reject_next_submission = True

    (refused,) = fire_rules(target, now=NOW)

    assert refused.status == Status.FAILED and "never visible" in refused.detail
    assert not ObservationRecord.objects.exists()
    (retried,) = fire_rules(target, now=NOW)
    assert retried.status == Status.SUBMITTED and len(portal.state.submitted) == 1


def test_a_submission_whose_answer_was_lost_is_never_resubmitted(portal):
    lco_rule()
    target = make_candidate("ZTF26aaaaabg")
    portal.state.gateway_timeout_after_next_submission = True

    (trigger,) = fire_rules(target, now=NOW)

    assert trigger.status == Status.OUTCOME_UNKNOWN and "504" in trigger.detail
    assert fire_rules(target, now=NOW) == []
    assert len(portal.state.submitted) == 1


def test_a_wrong_api_token_fails_clearly_and_submits_nothing(portal, settings):
    settings.FACILITIES = {"LCO": {"portal_url": portal.url, "api_key": "wrong-token"}}
    lco_rule()

    (trigger,) = fire_rules(make_candidate("ZTF26aaaaabh"), now=NOW)

    assert trigger.status == Status.FAILED and "Invalid token" in trigger.detail
    assert "wrong-token" not in trigger.detail
    assert portal.state.submitted == []


def test_a_soar_rule_submits_through_the_soar_imaging_form(portal):
    lco_rule(name="SOAR imaging", facility="SOAR", template=SOAR_IMAGING)

    (trigger,) = fire_rules(make_candidate("ZTF26aaaaabi"), now=NOW)

    assert trigger.status == Status.SUBMITTED
    assert trigger.observation_record.facility == "SOAR"
    (sent,) = portal.state.submitted
    assert sent["requests"][0]["location"] == {"telescope_class": "4m0"}


def test_a_rule_selects_targets_by_class_probability_brightness_age_and_region():
    rule = FollowupRule(class_name="SN", min_probability=0.7, max_magnitude=19.0,
                        max_hours_since_first_detection=48, min_dec=-60, max_dec=10)
    facts = TargetFacts(top_classes={"stamp_classifier": ("SN", 0.9)})
    young_bright = TargetFacts(top_classes=facts.top_classes,
                               detections=[PhotometryPoint(mjd=61114.5, fid=1, mag=18.5, mag_err=0.1)])
    now = datetime(2026, 3, 15, 18, 0, tzinfo=timezone.utc)  # MJD 61114.75
    assert select(rule, young_bright, dec=-20, now=now).selected
    assert "not SN" in select(rule, TargetFacts(top_classes={"stamp_classifier": ("AGN", 0.9)}), -20, now).reason
    assert "0.50 < 0.70" in select(rule, TargetFacts(top_classes={"stamp_classifier": ("SN", 0.5)},
                                                     detections=young_bright.detections), -20, now).reason
    faint = TargetFacts(top_classes=facts.top_classes,
                        detections=[PhotometryPoint(mjd=61114.5, fid=1, mag=20.5, mag_err=0.1)])
    assert "fainter" in select(rule, faint, -20, now).reason
    old = TargetFacts(top_classes=facts.top_classes,
                      detections=[PhotometryPoint(mjd=61100.0, fid=1, mag=18.5, mag_err=0.1)])
    assert "h ago" in select(rule, old, -20, now).reason
    assert "declination" in select(rule, young_bright, 30, now).reason
