"""Positions on the sky: the one rule for what a right ascension and a declination may be.

ra in [RA_MIN, RA_MAX): 360 deg is 0 deg again, so it is written as 0, as ZTF, Rubin and
ALeRCE write it; dec in [DEC_MIN, DEC_MAX], the poles included. Degrees, finite numbers.
"""
from __future__ import annotations

import math
from typing import Any

RA_MIN, RA_MAX = 0.0, 360.0  # ra < RA_MAX
DEC_MIN, DEC_MAX = -90.0, 90.0  # dec <= DEC_MAX
RA_RULE = f"{RA_MIN:g} <= ra < {RA_MAX:g} deg"
DEC_RULE = f"{DEC_MIN:g} <= dec <= {DEC_MAX:g} deg"


def wrapped_ra(degrees: float) -> float:
    """``degrees`` as a right ascension in [RA_MIN, RA_MAX): modulo 360, where a tiny negative
    value (a mean about ra 0) would round to 360 itself, which is 0 again."""
    ra = float(degrees) % RA_MAX
    return RA_MIN if ra >= RA_MAX else ra


def coordinate_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is no ``name`` ("ra" or "dec") in degrees, or None if it is one: a finite
    number, ra in [RA_MIN, RA_MAX), dec in [DEC_MIN, DEC_MAX]."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{name} = {value!r} is not a number"
    if name == "ra":
        inside, rule = RA_MIN <= number < RA_MAX, RA_RULE
    elif name == "dec":
        inside, rule = DEC_MIN <= number <= DEC_MAX, DEC_RULE
    else:
        raise ValueError(f"{name!r} is no coordinate: 'ra' or 'dec'")
    if not (math.isfinite(number) and inside):  # NaN is never inside
        return f"{name} = {value} is not within {rule}"
    return None


def position_problem(ra: Any, dec: Any) -> str | None:
    """Why (``ra``, ``dec``) in degrees is no position on the sky, or None if it is one:
    each a finite number, ra in [0, 360), dec in [-90, 90]."""
    return coordinate_problem("ra", ra) or coordinate_problem("dec", dec)
