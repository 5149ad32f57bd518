"""What every survey adapter provides, and the errors a bad packet raises."""
from __future__ import annotations

from typing import Any, Protocol

from classifier_service.alert import Alert


class AlertParseError(ValueError):
    """A packet that cannot become an Alert; the message becomes the dead-letter reason."""


class UnsupportedSchemaError(AlertParseError):
    """A packet written with a schema version this adapter does not know."""


class SurveyAdapter(Protocol):
    """Turns one decoded packet of a survey into the shared alert model."""

    SURVEY: str

    def parse(self, record: dict[str, Any]) -> Alert: ...
