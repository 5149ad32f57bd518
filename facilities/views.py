"""Pages: the target's TNS tab and its "Report to TNS" button, the list of reports, and Tonight."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import ListView, TemplateView
from tom_targets.models import Target

from facilities.followup.tonight import assess, candidates
from facilities.followup.trigger import fire_rules
from facilities.models import FollowupRule, TNSReport
from facilities.tns import service


def tns_tab_context(context) -> dict:
    """The target page's TNS tab: the report as it would be sent, and every report so far."""
    target = context.get("target") or context.get("object")
    user = context.get("user") or getattr(context.get("request"), "user", None)
    try:
        preview, preview_error = json.dumps(service.build_report(target), indent=2), ""
    except ValueError as exc:  # e.g. no detections yet
        preview, preview_error = "", str(exc)
    return {
        "target": target,
        "tns_preview": preview,
        "tns_preview_error": preview_error,
        "tns_reports": target.tns_reports.all(),
        "tns_live_report": service.live_report(target),
        "tns_can_report": bool(user and user.is_staff),
    }


class ReportToTNSView(View):
    """GET: the target's TNS tab; POST (staff): report the target once, or record a dry run."""

    def get(self, request, pk: int):
        return redirect(_target_tab(pk, "tns"))

    @method_decorator(staff_member_required)
    def post(self, request, pk: int):
        target = get_object_or_404(Target, pk=pk)
        report = service.submit_report(target, mode="manual", dry_run=request.POST.get("dry_run") == "on")
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
        return TNSReport.objects.select_related("target")


class TonightView(LoginRequiredMixin, TemplateView):
    """Each active rule's candidates now, their visibility windows and airmass curves, and what fired."""

    template_name = "facilities/tonight.html"

    def get_context_data(self, **kwargs):
        from tom_alerce.plots import figure_html

        now = datetime.now(timezone.utc)
        rules = []
        for rule in FollowupRule.objects.filter(active=True).order_by("name"):
            rows = [(c, figure_html(c.figure)) for c in candidates(rule, now)]
            rules.append({"rule": rule, "candidates": rows,
                          "fired": rule.triggers.select_related("target", "observation_record")[:20]})
        return {**super().get_context_data(**kwargs), "now": now, "rules": rules}


class FollowupTargetView(LoginRequiredMixin, TemplateView):
    """One target against every active rule (GET); staff may fire a rule for it now (POST)."""

    template_name = "facilities/followup_target.html"

    def get_context_data(self, **kwargs):
        from tom_alerce.plots import figure_html

        target = get_object_or_404(Target, pk=self.kwargs["pk"])
        now = datetime.now(timezone.utc)
        rows = [(candidate, figure_html(candidate.figure))
                for candidate in (assess(rule, target, now)
                                  for rule in FollowupRule.objects.filter(active=True).order_by("name"))]
        return {**super().get_context_data(**kwargs), "target": target, "now": now, "rows": rows}

    @method_decorator(staff_member_required)
    def post(self, request, pk: int):
        target = get_object_or_404(Target, pk=pk)
        rule = get_object_or_404(FollowupRule, pk=request.POST.get("rule"), active=True)
        fired = fire_rules(target, rules=[rule])
        if fired:
            messages.info(request, f"{rule.name}: {fired[0].get_status_display()} {fired[0].detail}")
        else:
            messages.warning(request, f"{rule.name} did not fire for {target.name}: already fired, not wanted, "
                                      f"not observable or over its nightly budget")
        return redirect(reverse("facilities:followup-request", kwargs={"pk": pk}))


def _target_tab(pk: int, tab: str) -> str:
    return reverse("tom_targets:detail", kwargs={"pk": pk}) + f"?tab={tab}"
