"""Tonight's follow-up candidates of a rule: who it wants, when each is observable, the airmass curve.

Read-only: it applies the same selection and visibility as the trigger, without firing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import plotly.graph_objects as go
from astropy.time import Time
from django.db.models import QuerySet
from tom_targets.models import Target

from facilities.followup.trigger import Selection, rule_observer, select
from facilities.followup.visibility import VisibilityWindow, airmass_curve, runs, window_in
from facilities.models import FollowupRule, FollowupTrigger
from facilities.target_facts import target_facts

MAX_CANDIDATES_PER_RULE = 25
PLOT_AIRMASS_CEILING = 3.0


@dataclass
class Candidate:
    rule: FollowupRule
    target: Target
    selection: Selection
    window: VisibilityWindow | None
    fired: FollowupTrigger | None
    figure: go.Figure


def assess(rule: FollowupRule, target: Target, now: datetime) -> Candidate:
    """What the rule makes of one target now: wanted or why not, when observable, fired already?"""
    curve = airmass_curve(rule_observer(rule), target.ra, target.dec, now, rule.window_hours)
    window = window_in(*curve, max_airmass=rule.max_airmass, sun_altitude_deg=rule.sun_altitude_deg,
                       min_minutes=rule.min_window_minutes)
    fired = rule.triggers.filter(target=target).exclude(status=FollowupTrigger.Status.FAILED).first()
    return Candidate(rule=rule, target=target, selection=select(rule, target_facts(target), target.dec, now),
                     window=window, fired=fired, figure=airmass_figure(rule, target.name, *curve))


def candidates(rule: FollowupRule, now: datetime, targets: QuerySet | None = None) -> list[Candidate]:
    """The targets the rule selects now among ``targets`` (default all; pages pass the user's
    visible ones), best classified first, with visibility and what already fired."""
    from tom_alerce.models import TargetClassification

    ranked = (TargetClassification.objects
              .filter(target__in=Target.objects.all() if targets is None else targets)
              .filter(classifier_name=rule.classifier_name, class_name=rule.class_name, ranking=1,
                      probability__gte=rule.min_probability)
              .order_by("-probability").values_list("target_id", flat=True)[:MAX_CANDIDATES_PER_RULE * 4])
    ids = list(dict.fromkeys(ranked))[:MAX_CANDIDATES_PER_RULE]  # one row per classifier version
    by_id = Target.objects.in_bulk(ids)
    targets = [by_id[i] for i in ids]
    return [candidate for candidate in (assess(rule, target, now) for target in targets)
            if candidate.selection.selected]


def airmass_figure(rule: FollowupRule, name: str, times: Time, airmass: np.ndarray, sun: np.ndarray) -> go.Figure:
    """An airmass curve from the rule's site, with darkness shaded and the rule's limit drawn."""
    when = [t.to_datetime() for t in times]
    shown = np.where(airmass <= PLOT_AIRMASS_CEILING, airmass, np.nan)
    figure = go.Figure(go.Scatter(x=when, y=shown, mode="lines", name=name))
    for start, end in runs(sun <= rule.sun_altitude_deg):
        figure.add_vrect(x0=when[start], x1=when[end], fillcolor="#1f2d4d", opacity=0.15, line_width=0)
    figure.add_hline(y=rule.max_airmass, line_dash="dash", line_color="#d62728")
    figure.update_layout(height=220, margin=dict(l=40, r=10, t=10, b=30), showlegend=False,
                         yaxis=dict(title="airmass", range=[PLOT_AIRMASS_CEILING, 1], autorange=False),  # one scale for every target
                         xaxis=dict(title=f"UTC, from {rule.site}"))
    return figure
