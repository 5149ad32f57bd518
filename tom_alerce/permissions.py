"""Which targets a user may see and change: tomtoolkit's rule (django-guardian object
permissions, public and open targets) in the few shapes the apps' pages need.

Every page of tom_alerce and facilities lists and acts through these, so a private
target never shows to, nor changes for, a user without the permission.
"""
from __future__ import annotations

import math

from django.db.models import QuerySet
from tom_targets.models import Target
from tom_targets.permissions import targets_for_user

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
    """Finite, 0 <= ra < 360 and -90 <= dec <= 90 (degrees): what a target's pages can draw."""
    try:
        ra, dec = float(ra), float(dec)
    except (TypeError, ValueError):
        return False
    return math.isfinite(ra) and math.isfinite(dec) and 0.0 <= ra < 360.0 and -90.0 <= dec <= 90.0
