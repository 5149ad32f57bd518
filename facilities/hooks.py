"""The hook the broker plugin's stream listener fires for each new or changed target.

Wire it in settings: ``HOOKS["alerce_alert_received"] = "facilities.hooks.on_alert_received"``.
A failure here is logged and never propagates: the listener must keep consuming. Nor does a
TNS outage hold it up: automatic reports wait out a cool-down instead (facilities.tns.breaker).
"""
from __future__ import annotations

import logging

from tom_targets.models import Target

from facilities.followup.trigger import fire_rules
from facilities.tns.policy import apply_policies, known_solar_system_object

log = logging.getLogger(__name__)


def on_alert_received(target: Target, alert: dict | None = None, created: bool = False,
                      filters: list[str] | None = None, **kwargs) -> None:
    """Run the automatic TNS policies (which read the alert's solar-system association) and the
    follow-up rules on a freshly updated target: no telescope time for a known asteroid."""
    actions = {"apply_policies": lambda: apply_policies(target, alert), "fire_rules": lambda: _follow_up(target, alert)}
    for name, action in actions.items():
        try:
            action()
        except Exception:
            log.exception("%s failed for %s", name, target.name)


def _follow_up(target: Target, alert: dict | None) -> None:
    if solar_system := known_solar_system_object(alert):
        log.info("no follow-up of %s: %s", target.name, solar_system)
        return
    fire_rules(target)
