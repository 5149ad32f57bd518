"""Which targets a user may see and change: tomtoolkit's rule (django-guardian object
permissions, public and open targets) in the few shapes the apps' pages need.

Every page of tom_alerce and facilities, and this plugin's DataService behind tomtoolkit's
Data Services pages, lists and acts through these, so a private target never shows to, nor
changes for, a user without the permission.
"""
from __future__ import annotations

from django.db.models import QuerySet
from tom_targets.models import Target
from tom_targets.permissions import targets_for_user

from alerce_broker_plugin.ingest import BrokerObject, find_target
from alerce_contract.sky import position_problem

VIEW = "view_target"
CHANGE = "change_target"


def visible_targets(user, targets: QuerySet | None = None) -> QuerySet:
    return targets_for_user(user, Target.objects.all() if targets is None else targets, VIEW)


def changeable_targets(user, targets: QuerySet | None = None) -> QuerySet:
    """Anonymous users change nothing (tomtoolkit lets them see OPEN targets only)."""
    if not getattr(user, "is_authenticated", False):
        return Target.objects.none()
    return targets_for_user(user, Target.objects.all() if targets is None else targets, CHANGE)


def can_change(user, target: Target) -> bool:
    return target is not None and changeable_targets(user, Target.objects.filter(pk=target.pk)).exists()


def valid_coordinates(ra, dec) -> bool:
    """A position on the sky (alerce_contract.sky): what a target's pages can draw."""
    return position_problem(ra, dec) is None


def import_refusal(obj: BrokerObject, user) -> str | None:
    """Why ``user`` may not import ``obj``, or None. A target the TOM already has under its name,
    an alias or its position is changed only with change permission; the answer is the same
    whether the user cannot see it or only cannot change it, so it reveals nothing (no pk)."""
    if not valid_coordinates(obj.ra, obj.dec):
        return f"{obj.oid}: not imported (the broker gives no valid position: ra={obj.ra}, dec={obj.dec})"
    existing = find_target(obj.oid, obj.ra, obj.dec)
    if existing is not None and not can_change(user, existing):
        return f"{obj.oid}: not imported: a target with this name or position exists and you do not have access to it"
    return None
