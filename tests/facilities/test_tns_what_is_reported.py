"""What may be reported to TNS at all: ZTF discoveries of real transients, at a position on the
sky, as the supernova candidates their classifier says they are; and what automatic mode never
tries twice."""
from __future__ import annotations

import pytest
from tom_alerce.classifications import record_classifications
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from facilities.hooks import on_alert_received
from facilities.models import TNSAutoReportDecision, TNSAutoReportPolicy, TNSReport
from facilities.tns import service
from facilities.tns.policy import known_solar_system_object
from facilities.views import tns_tab_context
from .candidates import _utc, make_candidate, ztf_alert

pytestmark = pytest.mark.django_db
Status = TNSReport.Status
RUBIN_ONLY = "TNS reporting is set up for ZTF discoveries only; this target's photometry is Rubin's"


def rubin_candidate(oid: str = "313853037543735399", telescope: str = "Rubin") -> Target:
    """A Rubin transient, classified SN by Rubin's stamp classifier, with g, r and z photometry."""
    target = Target.objects.create(name=oid, type="SIDEREAL", ra=60.0, dec=-30.0)
    for mjd, band, mag in [(61000.1, "g", 22.9), (61000.2, "r", 22.8), (61000.3, "z", 22.5)]:
        PhotometryReducedDatum.objects.create(target=target, timestamp=_utc(mjd), bandpass=band, brightness=mag,
                                              brightness_error=0.1, telescope=telescope)
    record_classifications(target, {"stamp_classifier_lsst": {"version": "1", "probabilities": {
        "SN": 0.9, "AGN": 0.05, "VS": 0.05, "asteroid": 0.0, "bogus": 0.0}}}, source="test")
    record_classifications(target, {"stamp_classifier": {"version": "1", "probabilities": {
        "SN": 0.9, "AGN": 0.05, "VS": 0.05, "asteroid": 0.0, "bogus": 0.0}}}, source="test")
    return target


# 1. Only ZTF discoveries ---------------------------------------------------------------------

def test_a_rubin_target_is_refused_by_hand_with_the_reason_and_nothing_is_sent(tns):
    target = rubin_candidate()

    with pytest.raises(ValueError, match=RUBIN_ONLY):
        service.build_report(target)
    report = service.submit_report(target)

    assert report.status == Status.FAILED and report.error == RUBIN_ONLY
    assert tns.state.uploads == [] and tns.state.forms == []


def test_rubin_photometry_without_a_telescope_is_known_by_the_target_name_or_a_band_ztf_lacks(tns):
    by_name = rubin_candidate(telescope="")
    ztf_named = make_candidate("ZTF26aarubin")
    PhotometryReducedDatum.objects.create(target=ztf_named, timestamp=_utc(61002.0), bandpass="z", brightness=20.0,
                                          brightness_error=0.1)

    for target in (by_name, ztf_named):
        with pytest.raises(ValueError, match="TNS reporting is set up for ZTF discoveries only"):
            service.build_report(target)
    with pytest.raises(ValueError, match="photometry includes Rubin's"):
        service.build_report(ztf_named)


def test_automatic_mode_refuses_a_rubin_target_with_the_reason(policy, tns):
    target = rubin_candidate()

    on_alert_received(target=target, alert={"objectId": target.name, "survey": "LSST"}, created=True)

    (decision,) = TNSAutoReportDecision.objects.filter(target=target)
    assert decision.report is False and decision.reason == RUBIN_ONLY
    assert not target.tns_reports.exists() and tns.state.forms == []


# 2. Not known solar-system objects -----------------------------------------------------------

def test_an_alert_of_a_known_asteroid_is_not_reported_and_the_decision_says_why(policy, tns):
    target = make_candidate("ZTF26aaasso1")  # the stamp classifier says SN

    on_alert_received(target=target, alert=ztf_alert(target.name, ssnamenr="2004 XR14", ssdistnr=0.4))

    (decision,) = TNSAutoReportDecision.objects.filter(target=target)
    assert decision.report is False
    assert decision.reason == "not a transient: known solar-system object 2004 XR14 is 0.4 arcsec away"
    assert tns.state.uploads == []


@pytest.mark.parametrize("alert, solar_system", [
    (ztf_alert("ZTF26aaasso2", ssnamenr="2004 XR14", ssdistnr=5.0), True),
    ({"objectId": "ZTF26aaasso2", "ssnamenr": "12345", "ssdistnr": 1.2}, True),  # fields at the top
    ({"objectId": "ss9876543210", "survey": "LSST"}, True),  # Rubin's solar-system oid
    ({"objectId": "313853037543735399", "diaSource": {"ssObjectId": 9876543210}}, True),
    ({"objectId": "313853037543735399", "diaSource": {"ssObjectId": 0}}, False),
    (ztf_alert("ZTF26aaasso2", ssnamenr="2004 XR14", ssdistnr=5.1), False),  # too far to be it
    (ztf_alert("ZTF26aaasso2"), False),  # ssnamenr "null", ssdistnr -999
    ({"objectId": "ZTF26aaasso2", "ssnamenr": None, "ssdistnr": None}, False),  # classified stream: none known
    ({"objectId": "ZTF26aaasso2", "survey": "ZTF"}, False),  # no solar-system fields at all
    (None, False),
])
def test_a_known_solar_system_object_is_one_ztf_or_rubin_associates_with_the_alert(alert, solar_system):
    assert (known_solar_system_object(alert) is not None) is solar_system


# 3. Positions on the sky ---------------------------------------------------------------------

@pytest.mark.parametrize("ra, dec, reason", [(50.0, 95.0, "dec = 95.0"), (400.0, 10.0, "ra = 400.0")])
def test_impossible_coordinates_are_refused_before_anything_is_sent(tns, ra, dec, reason):
    target = make_candidate("ZTF26aaacoor", ra=ra, dec=dec)

    report = service.submit_report(target)

    assert report.status == Status.FAILED and f"impossible coordinates: {reason}" in report.error
    assert tns.state.uploads == []


def test_tns_rejects_a_report_at_an_impossible_position_with_feedback_on_the_field(tns):
    target = make_candidate("ZTF26aaacoos")
    payload = service.build_report(target)
    payload["at_report"]["0"]["dec"]["value"] = "95.0"  # edited by hand past the builder

    report = service.submit_report(target, payload=payload)

    assert report.status == Status.REJECTED and not report.iau_name
    assert [set(entry) for entry in report.feedback] == [{"dec"}]


# 4. Final decisions of automatic mode, and a cap on uploads ----------------------------------

def test_an_object_already_on_tns_is_decided_once_and_only_uploads_count_against_the_cap(policy, tns):
    policy.daily_cap = 1
    policy.save()
    tns.known("ATLAS26abc", ra=80.0, dec=-20.2, prefix="SN", objname="2026known")
    known = make_candidate("ZTF26aaaknwn", ra=80.0)

    for _ in range(5):
        on_alert_received(target=Target.objects.get(pk=known.pk), alert=ztf_alert("ZTF26aaaknwn"))

    assert [r.status for r in TNSReport.objects.filter(target=known)] == [Status.ALREADY_ON_TNS]
    reasons = list(TNSAutoReportDecision.objects.filter(target=known).order_by("created")
                   .values_list("report", "reason"))
    assert len(reasons) == 2 and reasons[0][0] is True
    assert reasons[1] == (False, "already on TNS as SN 2026known; not reported automatically again "
                                 "(report it by hand if needed)")
    requests_for_known = len(tns.state.forms)
    assert requests_for_known <= 2  # the first alert's searches; none after

    fresh = make_candidate("ZTF26aaafrsh", ra=90.0)
    on_alert_received(target=fresh, alert=ztf_alert(fresh.name))
    assert tns.state.uploads == ["ZTF26aaafrsh"]  # the cap of one upload was still free


def test_a_report_tns_rejected_is_not_retried_automatically_but_can_be_sent_by_hand(policy, tns):
    tns.state.reject_internal_names.add("ZTF26aaarejd")
    target = make_candidate("ZTF26aaarejd", ra=100.0)

    for _ in range(3):
        on_alert_received(target=Target.objects.get(pk=target.pk), alert=ztf_alert("ZTF26aaarejd"))

    assert tns.state.uploads == ["ZTF26aaarejd"]
    latest = TNSAutoReportDecision.objects.filter(target=target).first()
    assert latest.report is False and latest.reason.startswith("TNS rejected the earlier report")

    tns.state.reject_internal_names.clear()
    assert service.submit_report(Target.objects.get(pk=target.pk)).status == Status.ACCEPTED


# 5. The classifier named is the one whose class is used --------------------------------------

def test_the_remark_names_the_classifier_that_classified_the_target(tns):
    from tom_alerce.models import TargetClassification

    target = make_candidate("ZTF26aaalcsn")
    TargetClassification.objects.filter(target=target).delete()  # only the light curve classifier's verdict
    record_classifications(target, {"lc_classifier": {"version": "1", "probabilities": {
        "SNIa": 0.1, "SN": 0.8, "AGN": 0.1}}}, source="test")

    remark = service.build_report(target)["at_report"]["0"]["remarks"]

    assert "light curve classifier" in remark and "stamp classifier" not in remark
    assert remark.startswith("Early SN candidate") and "P(SN) = 0.80" in remark


def test_a_target_whose_top_class_is_not_sn_is_not_reported_automatically_and_warned_about_by_hand(tns):
    TNSAutoReportPolicy.objects.create(name="agn", dry_run=False, class_name="AGN", min_probability=0.5,
                                       max_magnitude=21)
    agn = make_candidate("ZTF26aaaagn1", class_name="AGN", probability=0.9)

    on_alert_received(target=agn, alert=ztf_alert(agn.name))

    (decision,) = TNSAutoReportDecision.objects.filter(target=agn)
    assert decision.report is False and "TNS files these reports as possible supernovae" in decision.reason
    assert tns.state.uploads == []
    assert service.report_warning(agn) == ("stamp_classifier's top class is AGN, not SN; "
                                           "TNS will file it as a possible supernova")
    remark = service.build_report(agn)["at_report"]["0"]["remarks"]
    assert "AGN candidate" in remark and "classified using ALeRCE's stamp classifier" in remark
    assert tns_tab_context({"target": agn})["tns_warning"] == service.report_warning(agn)  # shown on the tab
    assert service.report_warning(make_candidate("ZTF26aaasn01", ra=30.0)) is None
