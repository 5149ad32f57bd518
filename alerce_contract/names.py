"""Which name the broker knows a target by: a ZTF objectId or a Rubin object id.

A TOM target may carry many names (a TNS designation, a catalogue name, aliases); the broker
knows it by exactly one of them. ZTF names objects ``ZTF`` + two-digit year + seven lower-case
letters. Rubin's oid is the decimal ``diaObjectId``, or ``ss`` + ``ssObjectId`` for a
solar-system source (see classifier_service/surveys/lsst.py).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SOLAR_SYSTEM_PREFIX = "ss"  # a Rubin source associated with a solar-system object, not a diaObject
# ZTF's association of a candidate with a known solar-system object: ssnamenr names the nearest
# one ("null", or empty, when there is none) and ssdistnr its distance in arcsec (-999 when
# none); ALeRCE calls the candidate that object within SOLAR_SYSTEM_MATCH_ARCSEC.
NO_SOLAR_SYSTEM_NAMES = ("", "null")
SOLAR_SYSTEM_MATCH_ARCSEC = 5.0
ZTF_OID = re.compile(r"ZTF\d{2}[a-z]{7}")
LSST_OID = re.compile(rf"(?:{SOLAR_SYSTEM_PREFIX})?[1-9]\d{{0,19}}")


def solar_system_name(name: Any) -> str | None:
    """ZTF's ssnamenr (or Rubin's designation) as a name; None where it says there is none."""
    return None if name is None or str(name) in NO_SOLAR_SYSTEM_NAMES else str(name)


def is_known_solar_system_object(name: Any, distance_arcsec: Any) -> bool:
    """Whether a candidate with this ssnamenr and ssdistnr is a known solar-system object."""
    return (solar_system_name(name) is not None and distance_arcsec is not None
            and 0 <= float(distance_arcsec) <= SOLAR_SYSTEM_MATCH_ARCSEC)


def survey_of_oid(name: str) -> str | None:
    """'ZTF' or 'LSST' for a broker object id, None for any other name."""
    if ZTF_OID.fullmatch(name):
        return "ZTF"
    if LSST_OID.fullmatch(name):
        return "LSST"
    return None


def broker_name(names: Sequence[str]) -> str:
    """The first of a target's names (its own name first, then aliases) shaped like a broker
    object id; the first name when none is, so a target named by the broker is asked for by it."""
    return next((name for name in names if survey_of_oid(name) is not None), names[0])
