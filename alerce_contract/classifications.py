"""The classifications shape both sides exchange, and the rule for which model version counts.

    {classifier_name: {"version": str, "probabilities": {class_name: float}}}

The classified stream carries it, the TOM stores it, and the API's probability rows
(classifier_name, classifier_version, class_name, probability, ranking) are turned into it
here, once. Where rows hold several versions of one classifier the newest version wins,
compared as versions ("1.10.0" after "1.9.0", "1.0" after "1.0.rc1"), not as text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

Classifications = dict[str, dict[str, Any]]

_PART = re.compile(r"\d+|[A-Za-z]+")
_PRE_RELEASE = {"dev": -4, "a": -3, "alpha": -3, "b": -2, "beta": -2, "rc": -1, "c": -1}


def version_key(version: str) -> tuple:
    """A sort key for model version strings: numeric parts as numbers, pre-releases before releases.

    "1.0.rc1" < "1.0" < "1.0.1" < "1.10"; a leading "v" is ignored; text that is no version at
    all still sorts (after every real version), so nothing raises.
    """
    text = str(version).strip().lower().removeprefix("v")
    key: list[tuple[int, int | str]] = []
    for part in _PART.findall(text):
        if part.isdigit():
            key.append((1, int(part)))
        elif part in _PRE_RELEASE:
            key.append((0, _PRE_RELEASE[part]))
        else:
            key.append((2, part))
    key.append((1, -1))  # a release ("1.0") sorts after its own pre-releases ("1.0rc1" -> ...(0,-1))
    return tuple(key)


def newest_version(versions: Iterable[str]) -> str:
    """The newest of some version strings (ValueError when there are none)."""
    return max(versions, key=version_key)


def classifications_from_probabilities(rows: Iterable[Mapping[str, Any]]) -> Classifications:
    """ALeRCE's probability rows to the classifications shape, newest version per classifier."""
    rows = list(rows)
    versions: dict[str, list[str]] = {}
    for row in rows:
        versions.setdefault(str(row["classifier_name"]), []).append(str(row.get("classifier_version") or ""))
    shaped: Classifications = {name: {"version": newest_version(found), "probabilities": {}}
                               for name, found in versions.items()}
    for row in rows:
        entry = shaped[str(row["classifier_name"])]
        if str(row.get("classifier_version") or "") == entry["version"]:
            entry["probabilities"][str(row["class_name"])] = float(row["probability"])
    return shaped


def top_classes(classifications: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, float]]:
    """classifier_name -> (most probable class, its probability)."""
    tops = {}
    for name, output in classifications.items():
        probabilities = output.get("probabilities") or {}
        if probabilities:
            class_name = max(probabilities, key=lambda c: probabilities[c])
            tops[name] = (class_name, float(probabilities[class_name]))
    return tops
