"""Automatic TNS reporting: which candidates a policy reports, and why (or why not)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from tom_targets.models import Target

from alerce_contract.names import SOLAR_SYSTEM_PREFIX, is_known_solar_system_object
from facilities.models import TNSAutoReportDecision, TNSAutoReportPolicy, TNSReport
from facilities.target_facts import TargetFacts, target_facts
from facilities.tns import breaker
from facilities.tns.report import REPORTED_CLASS
from facilities.tns.service import submit_report

log = logging.getLogger(__name__)

# Reports the automatic mode never redoes: TNS has or had its say. A person may still report by hand.
FINAL_FOR_AUTO = (*TNSReport.ACTIVE, TNSReport.Status.ALREADY_ON_TNS, TNSReport.Status.REJECTED)
# Reports that reached, or are on their way to, TNS: what the daily cap counts.
UPLOADS = (TNSReport.Status.QUEUED, TNSReport.Status.SENDING, TNSReport.Status.SENT,
           TNSReport.Status.OUTCOME_UNKNOWN, TNSReport.Status.ACCEPTED, TNSReport.Status.REJECTED)


@dataclass(frozen=True)
class Decision:
    report: bool
    reason: str


def decide(policy: TNSAutoReportPolicy, facts: TargetFacts, reported_today: int,
           solar_system: str | None = None) -> Decision:
    """Pure: the policy's verdict on a target not yet reported, with the reason a person can read."""
    if solar_system:
        return Decision(False, f"not a transient: {solar_system}")
    if facts.not_reportable_survey:
        return Decision(False, facts.not_reportable_survey)
    top = facts.top(policy.classifier_name)
    if top is None:
        return Decision(False, f"no {policy.classifier_name} classification")
    class_name, probability = top
    if class_name != policy.class_name:
        return Decision(False, f"{policy.classifier_name} top class is {class_name}, not {policy.class_name}")
    if class_name != REPORTED_CLASS:
        return Decision(False, f"{class_name} is not reported: TNS files these reports as possible supernovae")
    if probability < policy.min_probability:
        return Decision(False, f"P({class_name}) = {probability:.2f} < {policy.min_probability:.2f}")
    if facts.ndet < policy.min_detections:
        return Decision(False, f"{facts.ndet} detection(s) < {policy.min_detections}")
    magnitude = facts.last_magnitude
    if magnitude is None or magnitude > policy.max_magnitude:
        return Decision(False, f"last magnitude {magnitude} fainter than {policy.max_magnitude}")
    if reported_today >= policy.daily_cap:
        return Decision(False, f"daily cap of {policy.daily_cap} reports reached")
    return Decision(True, f"{class_name} with P = {probability:.2f}, {facts.ndet} detections, mag {magnitude:.2f}")


def known_solar_system_object(alert: dict[str, Any] | None) -> str | None:
    """Which known solar-system object the alert is, as its survey says; None for none.

    Rubin names a solar-system source ``ss`` + ssObjectId (or sets ssObjectId on the diaSource);
    ZTF puts the nearest known asteroid in ssnamenr/ssdistnr: at the top of the message as the
    classified stream carries them (null for none), or in its ``candidate`` as raw ZTF alerts do.
    """
    if not alert:
        return None
    oid = str(alert.get("objectId") or "")
    if oid.startswith(SOLAR_SYSTEM_PREFIX):
        return f"Rubin associates it with solar-system object {oid.removeprefix(SOLAR_SYSTEM_PREFIX)}"
    for fields in (alert, alert.get("candidate") or {}, alert.get("diaSource") or {}):
        ss_object_id = fields.get("ssObjectId")
        if ss_object_id not in (None, 0, "0", ""):
            return f"Rubin associates it with solar-system object {ss_object_id}"
        name, distance = fields.get("ssnamenr"), fields.get("ssdistnr")
        if is_known_solar_system_object(name, distance):
            return f"known solar-system object {name} is {float(distance):.1f} arcsec away"
    return None


def apply_policies(target: Target, alert: dict[str, Any] | None = None) -> list[TNSAutoReportDecision]:
    """Run every active policy on a target; log each decision, report where one says so.

    A target whose report TNS has settled (or is settling) gets one decision saying so, not one
    per alert, and costs no TNS request; while TNS is failing, a report waits for the breaker's
    cool-down (see :mod:`facilities.tns.breaker`), and the decision says until when.
    """
    facts = target_facts(target)
    solar_system = known_solar_system_object(alert)
    decisions = []
    for policy in TNSAutoReportPolicy.objects.filter(active=True):
        # asked again for each policy: the one before may have just reported the target
        final = target.tns_reports.filter(status__in=FINAL_FOR_AUTO).first()
        if final:
            decision, _ = TNSAutoReportDecision.objects.get_or_create(
                policy=policy, target=target, report=False, reason=_final_reason(final))
            decisions.append(decision)
            continue
        decision = decide(policy, facts, _uploads_today(policy), solar_system)
        outage = breaker.outage_to_wait_out() if decision.report and not policy.dry_run else None
        if outage:
            decision = Decision(False, breaker.waiting_reason(outage, decision.reason))
        reason = decision.reason + (" (dry run: nothing sent)" if decision.report and policy.dry_run else "")
        decisions.append(TNSAutoReportDecision.objects.create(
            policy=policy, target=target, report=decision.report, reason=reason))
        log.info("TNS policy %s on %s: %s — %s", policy.name, target.name,
                 "report" if decision.report else "skip", reason)
        if decision.report:
            report = _report(target, policy)
            if report.status in (TNSReport.Status.FAILED,):
                log.error("automatic TNS report of %s failed: %s", target.name, report.error)
    return decisions


def _report(target: Target, policy: TNSAutoReportPolicy) -> TNSReport:
    """A dry run, or a report whose TNS calls tell the breaker whether TNS is failing."""
    if policy.dry_run:
        return submit_report(target, mode="auto", dry_run=True, classifier=policy.classifier_name)
    with breaker.watched_client() as client:
        return submit_report(target, mode="auto", client=client, classifier=policy.classifier_name)


def _uploads_today(policy: TNSAutoReportPolicy) -> int:
    """Automatic reports sent to TNS in the last day (a dry-run policy counts its would-be uploads)."""
    statuses = (*UPLOADS, TNSReport.Status.DRY_RUN) if policy.dry_run else UPLOADS
    since = timezone.now() - timezone.timedelta(days=1)
    return TNSReport.objects.filter(mode="auto", status__in=statuses, created__gte=since).count()


def _final_reason(report: TNSReport) -> str:
    if report.status == TNSReport.Status.ALREADY_ON_TNS:
        return f"already on TNS as {report.iau_name}; not reported automatically again (report it by hand if needed)"
    if report.status == TNSReport.Status.REJECTED:
        return (f"TNS rejected the earlier report ({report.error}); not retried automatically "
                f"(fix it and report it by hand)")
    return "already reported to TNS"
