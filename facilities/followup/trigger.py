"""Firing follow-up rules: select targets, check visibility, submit through the TOM facility.

Submission goes through the facility's own observation form, as a person's request from
the TOM would: the rule's template fills the form, the form validates at the facility and
builds the payload, ``submit_observation`` sends it, and an ObservationRecord keeps it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from astroplan import Observer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from tom_common.exceptions import ImproperCredentialsException
from tom_observations.facility import get_service_class
from tom_observations.models import ObservationRecord
from tom_targets.models import Target

from alerce_contract.mjd import datetime_to_mjd

from facilities.followup.visibility import VisibilityWindow, first_window, site_observer
from facilities.models import FollowupRule, FollowupTrigger
from facilities.target_facts import TargetFacts, target_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    selected: bool
    reason: str


def select(rule: FollowupRule, facts: TargetFacts, dec: float, now: datetime) -> Selection:
    """Pure: does the rule want this target (classification, brightness, age, region)?"""
    top = facts.top(rule.classifier_name)
    if top is None or top[0] != rule.class_name:
        return Selection(False, f"{rule.classifier_name} top class is not {rule.class_name}")
    if top[1] < rule.min_probability:
        return Selection(False, f"P({top[0]}) = {top[1]:.2f} < {rule.min_probability:.2f}")
    magnitude = facts.last_magnitude
    if rule.max_magnitude is not None and (magnitude is None or magnitude > rule.max_magnitude):
        return Selection(False, f"last magnitude {magnitude} fainter than {rule.max_magnitude}")
    if rule.max_hours_since_first_detection is not None:
        first = facts.first_detection_mjd
        if first is None:
            return Selection(False, "no detection")
        age_hours = (datetime_to_mjd(now) - first) * 24
        if age_hours > rule.max_hours_since_first_detection:
            return Selection(False, f"first detected {age_hours:.0f} h ago > {rule.max_hours_since_first_detection} h")
    if rule.min_dec is not None and dec < rule.min_dec or rule.max_dec is not None and dec > rule.max_dec:
        return Selection(False, f"declination {dec:.1f} outside the rule's region")
    return Selection(True, "selected")


def rule_observer(rule: FollowupRule) -> Observer:
    """The rule's site, built in or from settings.FOLLOWUP_SITES."""
    return site_observer(rule.site, getattr(settings, "FOLLOWUP_SITES", None))


def visibility(rule: FollowupRule, target: Target, now: datetime) -> VisibilityWindow | None:
    return first_window(rule_observer(rule), target.ra, target.dec, start=now, hours=rule.window_hours,
                        max_airmass=rule.max_airmass, sun_altitude_deg=rule.sun_altitude_deg,
                        min_minutes=rule.min_window_minutes)


def fire_rules(target: Target, *, now: datetime | None = None,
               rules: list[FollowupRule] | None = None) -> list[FollowupTrigger]:
    """Apply every active rule to a target; returns the triggers created now."""
    now = now or datetime.now(timezone.utc)
    facts = target_facts(target)
    created = []
    for rule in rules if rules is not None else FollowupRule.objects.filter(active=True):
        trigger = _apply(rule, target, facts, now)
        if trigger:
            created.append(trigger)
    return created


def _apply(rule: FollowupRule, target: Target, facts: TargetFacts, now: datetime) -> FollowupTrigger | None:
    if rule.triggers.filter(target=target).exclude(status=FollowupTrigger.Status.FAILED).exists():
        return None  # never twice for the same target and rule
    selection = select(rule, facts, target.dec, now)
    if not selection.selected:
        log.debug("rule %s skips %s: %s", rule.name, target.name, selection.reason)
        return None
    window = visibility(rule, target, now)
    if window is None:
        log.info("rule %s: %s is not observable from %s in the next %.0f h", rule.name, target.name,
                 rule.site, rule.window_hours)
        return None
    if fired_in_night(rule, window.start) >= rule.nightly_budget:
        log.info("rule %s: nightly budget of %d spent; %s waits", rule.name, rule.nightly_budget, target.name)
        return None
    try:
        with transaction.atomic():
            trigger = FollowupTrigger.objects.create(
                rule=rule, target=target, window_start=window.start, window_end=window.end,
                status=FollowupTrigger.Status.DRY_RUN if rule.dry_run else FollowupTrigger.Status.SUBMITTING,
                detail=f"airmass {window.min_airmass:.2f} from {rule.site}")
    except IntegrityError:  # fired concurrently by another listener
        return None
    if rule.dry_run:
        log.info("rule %s (dry run) would observe %s %s–%s", rule.name, target.name, window.start, window.end)
        return trigger
    try:
        form = request_form(rule, target, window)
    except Exception as exc:  # refused before anything was submitted: the rule may fire again later
        log.warning("rule %s: %s refused the request for %s: %s", rule.name, rule.facility, target.name, exc)
        trigger.status, trigger.detail = FollowupTrigger.Status.FAILED, f"{type(exc).__name__}: {exc}"
        trigger.save()
        return trigger
    try:
        trigger.observation_record = submit(rule, target, form)
        trigger.status = FollowupTrigger.Status.SUBMITTED
    except Exception as exc:  # the facility may or may not have the request: never resubmit blindly
        log.exception("rule %s: submitting %s to %s failed", rule.name, target.name, rule.facility)
        trigger.status = (FollowupTrigger.Status.FAILED if _refused(exc)
                          else FollowupTrigger.Status.OUTCOME_UNKNOWN)
        trigger.detail = f"{type(exc).__name__}: {exc}"
    trigger.save()
    return trigger


def request_form(rule: FollowupRule, target: Target, window: VisibilityWindow):
    """The facility's own observation form, filled from the rule and validated at the facility.

    Raises ValueError with the facility's reasons when the form or the facility refuses it.
    """
    facility = get_service_class(rule.facility)()
    form_class = facility.get_form(rule.observation_type or None)
    airmass = {} if {"max_airmass", "c_1_max_airmass"} & set(rule.template) else {"max_airmass": rule.max_airmass}
    data = {
        **airmass,  # the rule's limit unless the template sets one; forms that know no airmass ignore it
        **rule.template,
        "target_id": target.id,
        "facility": rule.facility,
        "observation_type": rule.observation_type,
        "name": rule.template.get("name") or f"{target.name} ({rule.name})",
        "start": window.start.strftime("%Y-%m-%dT%H:%M:%S"),
        "end": window.end.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    form = form_class(data=data, initial={"target_id": target.id, "facility": rule.facility}, facility=facility)
    if not form.is_valid():
        raise ValueError(f"the facility rejected the request: {form.errors.as_text()}")
    return form


def submit(rule: FollowupRule, target: Target, form) -> ObservationRecord:
    """Submit a validated form as the TOM's own view does, and record every request it made."""
    facility = get_service_class(rule.facility)()
    observation_ids = facility.submit_observation(form.observation_payload())
    records = [ObservationRecord.objects.create(target=target, facility=rule.facility,
                                                parameters=form.serialize_parameters(),
                                                observation_id=str(observation_id))
               for observation_id in observation_ids]
    return records[0]


def fired_in_night(rule: FollowupRule, when: datetime) -> int:
    """Requests of this rule for the night that ``when`` falls in (local noon to noon at its site)."""
    lon = rule_observer(rule).location.lon.deg
    offset = timedelta(hours=lon / 15)
    local = when + offset
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if local < noon:
        noon -= timedelta(days=1)
    start = noon - offset
    return (rule.triggers.filter(window_start__gte=start, window_start__lt=start + timedelta(days=1))
            .exclude(status=FollowupTrigger.Status.FAILED).count())


def _refused(exc: Exception) -> bool:
    """A 4xx answer (a form ValidationError, bad credentials) means nothing was created."""
    return isinstance(exc, (ValidationError, ImproperCredentialsException, ValueError))
