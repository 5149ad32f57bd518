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

from classifier_service.stream.base import ClassifiedAlert, DeadLetter
from classifier_service.stream.classified import alert_fields


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
        lines = [json.dumps(alert_fields(alert)) for alert in alerts]
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
