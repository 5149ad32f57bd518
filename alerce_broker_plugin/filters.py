"""Which classified alerts a TOM wants: pure predicates over decoded stream messages.

Configured in ``ALERT_STREAMS[...]["OPTIONS"]["FILTERS"]`` as a list of dicts; an alert is
kept when it passes any one of them, and joins the TargetList "ALeRCE: <name>" of each it
passes. Every key but ``name`` is optional; an alert passes a filter when it meets all its keys:

    "FILTERS": [
        {"name": "bright SNe",
         "classifier": "stamp_classifier",   # the classifier must have classified the alert, and
         "class_name": "SN",                 # ranked this class within max_ranking (default 1)
         "min_probability": 0.6,             # with at least this probability
         "max_ranking": 1,
         "exclude": {"stamp_classifier": ["bogus", "asteroid"]},  # no listed top class (a
                                             # classifier that did not classify the alert excludes nothing)
         "solar_system": False,              # False: no Rubin solar-system sources ("ss" ids); True: only them
         "min_magpsf": 14.0, "max_magpsf": 19.5, "min_ndet": 2, "max_ndet": 100,
         "cone": {"ra": 150.0, "dec": 2.2, "radius_deg": 5.0}},
    ]

Without a ``FILTERS`` option the listener uses :data:`DEFAULT_FILTERS`, which keeps what is
real and outside the solar system: not bogus and not an asteroid by the stamp classifier
(ZTF's or Rubin's: ALeRCE's own first cut, as its SN Hunter and TOM listeners make it), and
no Rubin solar-system source. ``"FILTERS": []`` keeps every alert.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from alerce_contract.classifications import top_classes
from alerce_contract.names import SOLAR_SYSTEM_PREFIX
from alerce_contract.taxonomy import ASTEROID_CLASS, BOGUS_CLASS, STAMP_CLASSIFIERS

TARGET_LIST_PREFIX = "ALeRCE: "
DEFAULT_FILTERS: tuple[dict[str, Any], ...] = (
    {"name": "real sources", "exclude": {name: [BOGUS_CLASS, ASTEROID_CLASS] for name in STAMP_CLASSIFIERS},
     "solar_system": False},
)


@dataclass(frozen=True, slots=True)
class Cone:
    ra: float
    dec: float
    radius_deg: float

    def contains(self, ra: float, dec: float) -> bool:
        return angular_separation_deg(self.ra, self.dec, ra, dec) <= self.radius_deg


@dataclass(frozen=True, slots=True)
class AlertFilter:
    name: str
    classifier: str | None = None
    class_name: str | None = None
    min_probability: float = 0.0
    max_ranking: int = 1  # the class must be among this many most probable classes
    min_magpsf: float | None = None
    max_magpsf: float | None = None
    min_ndet: int | None = None
    max_ndet: int | None = None
    exclude: dict[str, tuple[str, ...]] | None = None  # classifier -> top classes that fail the filter
    solar_system: bool | None = None
    cone: Cone | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AlertFilter":
        """Build from settings; unknown keys or a class without its classifier are errors."""
        known = {f.name for f in fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"filter {config.get('name')!r}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        if not config.get("name"):
            raise ValueError(f"every filter needs a name: {config!r}")
        if config.get("class_name") and not config.get("classifier"):
            raise ValueError(f"filter {config['name']!r}: class_name needs a classifier")
        cone, exclude = config.get("cone"), config.get("exclude")
        if exclude is not None and not (isinstance(exclude, dict) and all(
                isinstance(classes, (list, tuple)) for classes in exclude.values())):
            raise ValueError(f"filter {config['name']!r}: exclude maps a classifier to a list of classes")
        return cls(**{**config, "cone": Cone(**cone) if cone else None,
                      "exclude": {name: tuple(classes) for name, classes in exclude.items()} if exclude else None})

    @property
    def target_list_name(self) -> str:
        return f"{TARGET_LIST_PREFIX}{self.name}"

    def matches(self, message: dict[str, Any]) -> bool:
        classifications = message.get("classifications") or {}
        return (self._class_matches(classifications)
                and not self._excluded(classifications)
                and (self.solar_system is None
                     or str(message.get("objectId", "")).startswith(SOLAR_SYSTEM_PREFIX) == self.solar_system)
                and _within(message.get("magpsf"), self.min_magpsf, self.max_magpsf)
                and _within(message.get("ndet"), self.min_ndet, self.max_ndet)
                and (self.cone is None or self.cone.contains(float(message["ra"]), float(message["dec"]))))

    def _class_matches(self, classifications: dict[str, Any]) -> bool:
        if self.classifier is None:
            return True
        probabilities = (classifications.get(self.classifier) or {}).get("probabilities") or {}
        if not probabilities:
            return False
        if self.class_name is None:
            return True
        probability = probabilities.get(self.class_name)
        if probability is None or probability < self.min_probability:
            return False
        ranking = 1 + sum(1 for other in probabilities.values() if other > probability)
        return ranking <= self.max_ranking


    def _excluded(self, classifications: dict[str, Any]) -> bool:
        tops = top_classes(classifications)
        return any(name in tops and tops[name][0] in classes for name, classes in (self.exclude or {}).items())


def angular_separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in degrees (haversine: exact for the small radii of sky filters)."""
    ra1, dec1, ra2, dec2 = map(math.radians, (ra1, dec1, ra2, dec2))
    h = math.sin((dec2 - dec1) / 2) ** 2 + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


def _within(value: Any, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)
