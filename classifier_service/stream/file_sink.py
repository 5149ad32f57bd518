"""A JSON-lines sink: one line per classified alert and per dead letter.

The alert lines have the shape the Kafka classified stream decodes to (without the light
curve), so a file written here can be read by the same tools.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.stream.base import ClassifiedAlert, DeadLetter


def classifications_dict(outputs: Sequence[ClassifierOutput]) -> dict[str, dict[str, Any]]:
    """{classifier_name: {"version", "probabilities": {class_name: p}}}, ALeRCE's shape."""
    return {out.classifier_name: {"version": out.classifier_version,
                                  "probabilities": {k: float(v) for k, v in out.probabilities.items()}}
            for out in outputs}


def classified_dict(alert: ClassifiedAlert) -> dict[str, Any]:
    return {
        "objectId": alert.oid, "candid": alert.candid, "survey": alert.survey,
        "ra": alert.ra, "dec": alert.dec, "mjd": alert.mjd, "fid": alert.fid,
        "magpsf": alert.magpsf, "sigmapsf": alert.sigmapsf, "ndet": alert.ndet,
        "firstmjd": alert.firstmjd, "lastmjd": alert.lastmjd,
        "classifications": classifications_dict(alert.classifications),
    }


def dead_letter_dict(letter: DeadLetter) -> dict[str, Any]:
    return {"dead_letter": True, "source": letter.source, "stage": letter.stage,
            "reason": letter.reason, "objectId": letter.oid, "candid": letter.candid}


class JsonLinesSink:
    """Appends to ``path`` ("-" for stdout); dead-letter lines only if asked for."""

    def __init__(self, path: str | Path = "-", *, dead_letters: bool = True) -> None:
        self.dead_letters = dead_letters
        self._owned = str(path) != "-"
        self._out: IO[str] = open(path, "a", encoding="utf-8") if self._owned else sys.stdout

    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        lines = [json.dumps(classified_dict(alert)) for alert in alerts]
        if self.dead_letters:
            lines.extend(json.dumps(dead_letter_dict(letter)) for letter in dead_letters)
        if lines:
            self._out.write("\n".join(lines) + "\n")

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._out.close()
