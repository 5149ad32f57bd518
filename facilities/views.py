"""Pages: the target's TNS tab and its "Report to TNS" button, the list of reports, and Tonight."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import ListView, TemplateView
from tom_targets.models import Target

from alerce_broker_plugin.permissions import can_change, visible_targets
from facilities.followup.tonight import PLOT_AIRMASS_CEILING, assess, candidates
from facilities.followup.trigger import fire_rules
from facilities.forms import TNSReportForm, initial_from
from facilities.models import FollowupRule, TNSReport
from facilities.tns import breaker, service
from facilities.tns.client import LIVE_URL, SANDBOX_URL, TNSError


def tns_tab_context(context) -> dict:
    """The target page's TNS tab: the report as a form with the built report as defaults, where
    it would go and whether the TOM can send it, and every report so far."""
    target = context.get("target") or context.get("object")
    user = context.get("user") or getattr(context.get("request"), "user", None)
    try:
        built, preview_error = service.build_report(target), ""
    except ValueError as exc:  # e.g. no detections yet
        built, preview_error = None, str(exc)
    return {
        "target": target,
        "tns_form": TNSReportForm(initial=initial_from(built, tns_dry_run_default())) if built else None,
        "tns_report": built["at_report"]["0"] if built else None,
        "tns_preview": json.dumps(built, indent=2) if built else "",
        "tns_preview_error": preview_error,
        "tns_warning": service.report_warning(target) if built else None,
        "tns_destination": tns_destination(),
        "tns_outage": breaker.outage_notice(),
        "tns_reports": target.tns_reports.all(),
        "tns_live_report": service.live_report(target),
        "tns_can_report": can_change(user, target),
    }


def tns_dry_run_default() -> bool:
    """Whether the tab's "dry run" box starts ticked (DATA_SERVICES['TNS']['dry_run_default'])."""
    return bool(service.tns_settings().get("dry_run_default", False))


def tns_destination() -> dict:
    """Where a report would go (sandbox, live or another URL) and whether the bot's credentials
    are set, so the tab says it before anyone presses the button."""
    url = service.tns_settings()["base_url"].rstrip("/")
    kind = {SANDBOX_URL: "sandbox", LIVE_URL: "live"}.get(url, "other")
    try:
        service.credentials()
        missing = ""
    except TNSError as exc:
        missing = str(exc)
    return {"url": url, "kind": kind, "credentials_missing": missing}


class ReportToTNSView(LoginRequiredMixin, View):
    """GET: the target's TNS tab; POST (change permission on the target): report it once, or record a dry run."""

    def get(self, request, pk: int):
        return redirect(_target_tab(pk, "tns"))

    def post(self, request, pk: int):
        target = target_for(request.user, pk, change=True)
        try:
            built = service.build_report(target)
        except ValueError as exc:
            messages.error(request, f"Cannot build a TNS report of {target.name}: {exc}")
            return redirect(_target_tab(target.pk, "tns"))
        # Fields the POST leaves out keep the built report's values (a bare POST sends it as built).
        form = TNSReportForm({**initial_from(built, dry_run=False), **request.POST.dict()})
        if not form.is_valid():
            problems = "; ".join(f"{form.fields[name].label or name}: {' '.join(errors)}" if name in form.fields
                                 else " ".join(errors) for name, errors in form.errors.items())
            messages.error(request, f"The TNS report was not sent: {problems}")
            return redirect(_target_tab(target.pk, "tns"))
        warning = service.report_warning(target)
        if warning:
            messages.warning(request, f"Reported by hand although {warning}")
        report = service.submit_report(target, mode="manual", dry_run=form.cleaned_data["dry_run"],
                                       payload=form.edited(built))
        level = messages.ERROR if report.status in (TNSReport.Status.FAILED, TNSReport.Status.REJECTED) \
            else messages.INFO
        detail = f": {report.error}" if report.error else ""
        messages.add_message(request, level, f"TNS report of {report.internal_name}: "
                                             f"{report.get_status_display()}{detail}")
        return redirect(_target_tab(target.pk, "tns"))


class TNSReportListView(LoginRequiredMixin, ListView):
    model = TNSReport
    template_name = "facilities/tns_reports.html"
    context_object_name = "reports"
    paginate_by = 50

    def get_queryset(self):
        return TNSReport.objects.filter(target__in=visible_targets(self.request.user)).select_related("target")


class TonightView(LoginRequiredMixin, TemplateView):
    """Each active rule's candidates now, their visibility windows and airmass curves, and what fired."""

    template_name = "facilities/tonight.html"

    def get_context_data(self, **kwargs):
        from tom_alerce.plots import figure_html

        now = datetime.now(timezone.utc)
        visible = visible_targets(self.request.user)
        rules = []
        for rule in FollowupRule.objects.filter(active=True).order_by("name"):
            rows = [(c, figure_html(c.figure)) for c in candidates(rule, now, visible)]
            fired = rule.triggers.filter(target__in=visible).select_related("target", "observation_record")
            rules.append({"rule": rule, "candidates": rows, "fired": fired[:20]})
        return {**super().get_context_data(**kwargs), "now": now, "rules": rules, "airmass_ceiling": PLOT_AIRMASS_CEILING}


class FollowupTargetView(LoginRequiredMixin, TemplateView):
    """One target against every active rule (GET); with change permission on it, fire a rule now (POST)."""

    template_name = "facilities/followup_target.html"

    def get_context_data(self, **kwargs):
        from tom_alerce.plots import figure_html

        target = target_for(self.request.user, self.kwargs["pk"])
        now = datetime.now(timezone.utc)
        rows = [(candidate, figure_html(candidate.figure))
                for candidate in (assess(rule, target, now)
                                  for rule in FollowupRule.objects.filter(active=True).order_by("name"))]
        return {**super().get_context_data(**kwargs), "target": target, "now": now, "rows": rows,
                "can_fire": can_change(self.request.user, target)}

    def post(self, request, pk: int):
        target = target_for(request.user, pk, change=True)
        rule_id = request.POST.get("rule", "")
        if not rule_id.isdigit():
            return HttpResponseBadRequest(f"rule must be a rule's id, not {rule_id[:40]!r}")
        rule = get_object_or_404(FollowupRule, pk=int(rule_id), active=True)
        fired = fire_rules(target, rules=[rule])
        if fired:
            messages.info(request, f"{rule.name}: {fired[0].get_status_display()} {fired[0].detail}")
        else:
            messages.warning(request, f"{rule.name} did not fire for {target.name}: already fired, not wanted, "
                                      f"not observable or over its nightly budget")
        return redirect(reverse("facilities:followup-request", kwargs={"pk": pk}))


def target_for(user, pk: int, *, change: bool = False) -> Target:
    """The target, when ``user`` may see it (404 otherwise: its existence is not revealed);
    with ``change``, 403 unless the user may also change it."""
    target = get_object_or_404(visible_targets(user), pk=pk)
    if change and not can_change(user, target):
        raise PermissionDenied(f"you may not change {target.name}")
    return target


def _target_tab(pk: int, tab: str) -> str:
    return reverse("tom_targets:detail", kwargs={"pk": pk}) + f"?tab={tab}"
