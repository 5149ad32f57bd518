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


# ALeRCE's v2 forced photometry: survey-specific fields nested under ``extra_fields``, and its
# multi-survey ids (aid, sid: null here, as ALeRCE's are optional), which the official client's
# pandas format drops by name (a KeyError without them).
FORCED_PHOTOMETRY_EXCLUDE = ("extra",)
ForcedPhotometry = model_for("ForcedPhotometry", tables.forced_photometry, FORCED_PHOTOMETRY_EXCLUDE,
                             extra_fields=(dict[str, Any] | None, None), aid=(str | None, None),
                             sid=(str | None, None))


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


# --- LSST (ALeRCE's multisurvey API) ----------------------------------------------------
# Shapes of api-lsst.alerce.online: integer oids, ``band`` numbered ALeRCE's way with the
# ``band_map`` that names them (the alerce client reads it), fluxes in nJy. Fields the
# store does not keep for Rubin (e.g. a detection's scienceFlux) are null.
class _LsstObjectFields(BaseModel):
    oid: int | str  # the diaObjectId; "ss" + ssObjectId for a solar-system source
    tid: int
    sid: int
    meanra: float
    meandec: float
    sigmara: float | None = None
    sigmadec: float | None = None
    firstmjd: float
    lastmjd: float
    deltamjd: float = 0.0
    n_det: int
    n_forced: int
    n_non_det: int


class LsstObject(_LsstObjectFields):
    created_date: str | None = None
    updated_date: str | None = None


class LsstObjectListItem(_LsstObjectFields):
    """An object with the class of the classifier the query used (or the default one)."""

    stellar: bool | None = None
    class_name: str | None = None
    classifier_name: str | None = None
    classfier_version: str | None = None  # sic: ALeRCE's spelling
    probability: float | None = None
    ranking: int | None = None


class LsstObjectPage(BaseModel):
    total: int | None = None
    next: int | None = None
    has_next: bool
    prev: int | None = None
    has_prev: bool
    current_page: int
    items: list[LsstObjectListItem]
    info_message: str | None = None


class LsstPhotometry(BaseModel):
    """What a detection and a forced-photometry epoch share."""

    oid: int | str  # the diaObjectId; "ss" + ssObjectId for a solar-system source
    survey_id: str = "lsst"
    measurement_id: int
    mjd: float
    ra: float | None = None
    dec: float | None = None
    band: int
    band_map: dict[int, str]
    visit: int | None = None
    detector: int | None = None
    psfFlux: float | None = None
    psfFluxErr: float | None = None
    scienceFlux: float | None = None
    scienceFluxErr: float | None = None


class LsstDetection(LsstPhotometry):
    diaObjectId: int | None = None
    parentDiaSourceId: int | None = None
    has_stamp: bool
    reliability: float | None = None


class LsstForcedPhotometry(LsstPhotometry):
    pass


class LsstNonDetection(BaseModel):
    """Rubin sends no upper limits; the list is always empty, as ALeRCE's is for LSST."""

    oid: int | str  # the diaObjectId; "ss" + ssObjectId for a solar-system source
    survey_id: str = "lsst"
    mjd: float
    band: int
    band_map: dict[int, str]
    diffmaglim: float | None = None


class LsstLightCurve(BaseModel):
    detections: list[LsstDetection]
    non_detections: list[LsstNonDetection]
    forced_photometry: list[LsstForcedPhotometry]


class LsstProbability(BaseModel):
    oid: str
    class_name: str
    classifier_name: str
    classifier_version: str
    probability: float
    ranking: int
