"""Automatic TNS reporting: which candidates a policy reports, and why (or why not)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone
from tom_targets.models import Target

from facilities.models import TNSAutoReportDecision, TNSAutoReportPolicy, TNSReport
from facilities.target_facts import TargetFacts, target_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    report: bool
    reason: str


def decide(policy: TNSAutoReportPolicy, facts: TargetFacts, reported_today: int,
           already_reported: bool) -> Decision:
    """Pure: the policy's verdict on one target, with the reason a person can read."""
    if already_reported:
        return Decision(False, "already reported to TNS")
    top = facts.top(policy.classifier_name)
    if top is None:
        return Decision(False, f"no {policy.classifier_name} classification")
    class_name, probability = top
    if class_name != policy.class_name:
        return Decision(False, f"{policy.classifier_name} top class is {class_name}, not {policy.class_name}")
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


def apply_policies(target: Target) -> list[TNSAutoReportDecision]:
    """Run every active policy on a target; log each decision, report where one says so."""
    from facilities.tns.service import live_report, submit_report

    facts = target_facts(target)
    decisions = []
    for policy in TNSAutoReportPolicy.objects.filter(active=True):
        since = timezone.now() - timezone.timedelta(days=1)
        reported_today = TNSAutoReportDecision.objects.filter(policy=policy, report=True, created__gte=since).count()
        decision = decide(policy, facts, reported_today, already_reported=live_report(target) is not None)
        reason = decision.reason + (" (dry run: nothing sent)" if decision.report and policy.dry_run else "")
        decisions.append(TNSAutoReportDecision.objects.create(
            policy=policy, target=target, report=decision.report, reason=reason))
        log.info("TNS policy %s on %s: %s — %s", policy.name, target.name,
                 "report" if decision.report else "skip", reason)
        if decision.report:
            report = submit_report(target, mode="auto", dry_run=policy.dry_run)
            if report.status in (TNSReport.Status.FAILED,):
                log.error("automatic TNS report of %s failed: %s", target.name, report.error)
    return decisions
