"""Positions on the sky: the one rule for what a right ascension and a declination may be."""
from __future__ import annotations

import math
from typing import Any

RA_RULE = "0 <= ra < 360 deg"
DEC_RULE = "-90 <= dec <= 90 deg"


def position_problem(ra: Any, dec: Any) -> str | None:
    """Why (``ra``, ``dec``) in degrees is no position on the sky, or None if it is one:
    each a finite number, ra in [0, 360), dec in [-90, 90]."""
    for name, value, low, high, rule in (("ra", ra, 0.0, 360.0, RA_RULE), ("dec", dec, -90.0, 90.0, DEC_RULE)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"{name} = {value!r} is not a number"
        inside = low <= number < high if name == "ra" else low <= number <= high  # NaN is neither
        if not (math.isfinite(number) and inside):
            return f"{name} = {value} is not within {rule}"
    return None
