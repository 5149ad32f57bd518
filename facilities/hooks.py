"""The hook the broker plugin's stream listener fires for each new or changed target.

Wire it in settings: ``HOOKS["alerce_alert_received"] = "facilities.hooks.on_alert_received"``.
A failure here is logged and never propagates: the listener must keep consuming.
"""
from __future__ import annotations

import logging

from tom_targets.models import Target

from facilities.followup.trigger import fire_rules
from facilities.tns.policy import apply_policies

log = logging.getLogger(__name__)


def on_alert_received(target: Target, alert: dict | None = None, created: bool = False,
                      filters: list[str] | None = None, **kwargs) -> None:
    """Run the automatic TNS policies and the follow-up rules on a freshly updated target."""
    for action in (apply_policies, fire_rules):
        try:
            action(target)
        except Exception:
            log.exception("%s failed for %s", action.__name__, target.name)
