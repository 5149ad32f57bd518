"""Tonight's follow-up candidates of a rule: who it wants, when each is observable, the airmass curve.

Read-only: it applies the same selection and visibility as the trigger, without firing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import plotly.graph_objects as go
from django.conf import settings
from tom_targets.models import Target

from facilities.followup.trigger import select, visibility
from facilities.followup.visibility import VisibilityWindow, airmass_curve, runs, site_observer
from facilities.models import FollowupRule, FollowupTrigger
from facilities.target_facts import target_facts

MAX_CANDIDATES_PER_RULE = 25
PLOT_AIRMASS_CEILING = 3.0


@dataclass
class Candidate:
    target: Target
    window: VisibilityWindow | None
    fired: FollowupTrigger | None
    figure: go.Figure


def candidates(rule: FollowupRule, now: datetime) -> list[Candidate]:
    """The targets the rule selects now (best classified first), with visibility and what already fired."""
    targets = (Target.objects.filter(alerce_classifications__classifier_name=rule.classifier_name,
                                     alerce_classifications__class_name=rule.class_name,
                                     alerce_classifications__ranking=1,
                                     alerce_classifications__probability__gte=rule.min_probability)
               .distinct().order_by("-alerce_classifications__probability")[:MAX_CANDIDATES_PER_RULE])
    fired = {t.target_id: t for t in rule.triggers.exclude(status=FollowupTrigger.Status.FAILED)}
    result = []
    for target in targets:
        if not select(rule, target_facts(target), target.dec, now).selected:
            continue
        result.append(Candidate(target=target, window=visibility(rule, target, now), fired=fired.get(target.id),
                                figure=airmass_figure(rule, target, now)))
    return result


def airmass_figure(rule: FollowupRule, target: Target, now: datetime) -> go.Figure:
    """Airmass over the rule's look-ahead window from its site, with darkness shaded and the limit drawn."""
    observer = site_observer(rule.site, getattr(settings, "FOLLOWUP_SITES", None))
    times, airmass, sun = airmass_curve(observer, target.ra, target.dec, now, rule.window_hours)
    when = [t.to_datetime() for t in times]
    shown = np.where(airmass <= PLOT_AIRMASS_CEILING, airmass, np.nan)
    figure = go.Figure(go.Scatter(x=when, y=shown, mode="lines", name=target.name))
    dark = sun <= rule.sun_altitude_deg
    for start, end in runs(dark):
        figure.add_vrect(x0=when[start], x1=when[end], fillcolor="#1f2d4d", opacity=0.15, line_width=0)
    figure.add_hline(y=rule.max_airmass, line_dash="dash", line_color="#d62728")
    figure.update_layout(height=220, margin=dict(l=40, r=10, t=10, b=30), showlegend=False,
                         yaxis=dict(title="airmass", autorange="reversed", range=[PLOT_AIRMASS_CEILING, 1]),
                         xaxis=dict(title=f"UTC, from {rule.site}"))
    return figure
