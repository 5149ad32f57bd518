"""Response models in ALeRCE's JSON shapes, derived from the store's tables.

Built from ``store/tables.py`` so that a column added there shows up in the API and its
OpenAPI document without a second list to keep in step. Every field is nullable, as in
ALeRCE's API; ``candid`` is a string there (64-bit ids do not survive JavaScript).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Table, Text

from classifier_service.store import tables

_PYTHON_TYPES = ((Boolean, bool), (BigInteger, int), (Integer, int), (Float, float),
                 (String, str), (Text, str), (JSON, Any))


def _python_type(column) -> Any:
    for sql_type, python_type in _PYTHON_TYPES:
        if isinstance(column.type, sql_type):
            return python_type
    raise TypeError(f"no API type for column {column}")


def columns(table: Table, exclude: Iterable[str] = ()) -> list[str]:
    """The table's column names the API returns, in table order."""
    skip = set(exclude)
    return [c.name for c in table.columns if c.name not in skip]


def model_for(name: str, table: Table, exclude: Iterable[str] = (),
              as_string: Iterable[str] = (), **extra: Any) -> type[BaseModel]:
    """A pydantic model with one optional field per returned column, plus ``extra`` fields."""
    strings = set(as_string)
    fields: dict[str, Any] = {
        column: ((str if column in strings else _python_type(table.c[column])) | None, None)
        for column in columns(table, exclude)
    }
    fields.update(extra)
    return create_model(name, **fields)


def clean_row(row: Mapping[str, Any], as_string: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-safe dict: NaN and infinities become null, ids listed in ``as_string`` strings."""
    strings = set(as_string)
    return {key: str(value) if key in strings and value is not None else json_safe(value)
            for key, value in row.items()}


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (also inside JSON columns) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


# --- object ---------------------------------------------------------------------------
OBJECT_EXCLUDE = ("survey",)
Object = model_for("Object", tables.object_table, OBJECT_EXCLUDE)


class ObjectListItem(Object):  # type: ignore[misc, valid-type]
    """An object with the top class of the classifier the query used (or the default one)."""

    model_config = ConfigDict(populate_by_name=True)

    class_name: str | None = Field(None, alias="class")
    classifier: str | None = None
    probability: float | None = None


class ObjectPage(BaseModel):
    """ALeRCE's paginated object list; ``total`` is null unless ``count`` was asked for."""

    total: int | None = None
    page: int
    next: int | None = None
    has_next: bool
    prev: int | None = None
    has_prev: bool
    items: list[ObjectListItem]


# --- light curve ----------------------------------------------------------------------
DETECTION_EXCLUDE = ("oid",)
DETECTION_STRINGS = ("candid",)
Detection = model_for("Detection", tables.detection, DETECTION_EXCLUDE, DETECTION_STRINGS)
NON_DETECTION_EXCLUDE = ("oid",)
NonDetection = model_for("NonDetection", tables.non_detection, NON_DETECTION_EXCLUDE)


class LightCurve(BaseModel):
    detections: list[Detection]  # type: ignore[valid-type]
    non_detections: list[NonDetection]  # type: ignore[valid-type]


# ALeRCE's v2 forced photometry: survey-specific fields nested under ``extra_fields``.
FORCED_PHOTOMETRY_EXCLUDE = ("extra",)
ForcedPhotometry = model_for("ForcedPhotometry", tables.forced_photometry,
                             FORCED_PHOTOMETRY_EXCLUDE, extra_fields=(dict[str, Any] | None, None))


# --- per-object products --------------------------------------------------------------
MAGSTAT_EXCLUDE = ("oid",)
Magstat = model_for("Magstat", tables.magstat, MAGSTAT_EXCLUDE)
PROBABILITY_EXCLUDE = ("oid",)
Probability = model_for("Probability", tables.probability, PROBABILITY_EXCLUDE)
FEATURE_EXCLUDE = ("oid",)
Feature = model_for("Feature", tables.feature, FEATURE_EXCLUDE)


# --- classifiers ----------------------------------------------------------------------
class Classifier(BaseModel):
    classifier_name: str
    classifier_version: str
    classes: list[str]


class ClassName(BaseModel):
    name: str


class Error(BaseModel):
    """What every 4xx and 5xx answer carries; ``detail`` is what the alerce client shows."""

    detail: str
    errors: list[dict[str, Any]] = []
