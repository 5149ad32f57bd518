"""ALeRCE's ZTF API (``/ztf/v1``): objects, their light curves and products, classifiers.

Routes, parameters and JSON shapes follow api.alerce.online so that the official
``alerce`` client and existing notebooks work unchanged against this store.
"""
from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import Field
from sqlalchemy import Connection, Engine

from classifier_service.api import schemas
from classifier_service.api.db import store
from classifier_service.api.gate import OID_PATTERN
from classifier_service.api.objects import (
    MAX_PAGE_SIZE,
    MAX_RADIUS_ARCSEC,
    ORDER_COLUMNS,
    ObjectQuery,
    build_count,
    check_paging,
    cone_search,
    value_range,
)
from classifier_service.api.reads import (
    check_classification_filters,
    default_classifier,
    fetch_rows,
    load_taxonomy,
    objects_first,
    page_rows,
    require_object,
    select_for,
)
from classifier_service.store import tables

router = APIRouter(prefix="/ztf/v1")
# The one v2 route the alerce client's ZTF search uses.
v2_router = APIRouter(prefix="/v2")

Db = Annotated[Engine, Depends(store)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Oid = Annotated[str, Path(min_length=1, max_length=32, pattern=OID_PATTERN,
                          description="The object's identifier")]
# ALeRCE's order_by choices (object and probability columns); an Enum so OpenAPI lists them.
OrderBy = Enum("OrderBy", {name: name for name in ORDER_COLUMNS}, type=str)


class OrderMode(str, Enum):
    ASC = "ASC"
    DESC = "DESC"


# --- objects --------------------------------------------------------------------------
@router.get("/objects", response_model=schemas.ObjectPage, tags=["objects"])
def list_objects(
    db: Db,
    oid: Annotated[list[Annotated[str, Field(min_length=1, max_length=32,
                                             pattern=OID_PATTERN)]] | None, Query(
        max_length=1000, description="Object ids; one id may use * wildcards")] = None,
    classifier: Annotated[str | None, Query(max_length=64)] = None,
    classifier_version: Annotated[str | None, Query(max_length=32)] = None,
    class_name: Annotated[str | None, Query(alias="class", max_length=32)] = None,
    ranking: Annotated[int | None, Query(ge=1, le=1000)] = None,
    probability: Annotated[float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False,
                                               description="Minimum probability")] = None,
    ndet: Annotated[list[FiniteFloat] | None, Query(description="Detections: min[, max]")] = None,
    firstmjd: Annotated[list[FiniteFloat] | None,
                        Query(description="First detection MJD: min[, max]")] = None,
    lastmjd: Annotated[list[FiniteFloat] | None,
                       Query(description="Last detection MJD: min[, max]")] = None,
    ra: Annotated[float | None, Query(ge=0.0, le=360.0, allow_inf_nan=False, description="Cone RA (deg)")] = None,
    dec: Annotated[float | None, Query(ge=-90.0, le=90.0, allow_inf_nan=False, description="Cone Dec (deg)")] = None,
    radius: Annotated[float | None, Query(gt=0.0, le=MAX_RADIUS_ARCSEC, allow_inf_nan=False,
                                          description="Cone radius (arcsec, default 30)")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
    count: Annotated[bool, Query(description="Whether to count the total")] = False,
    order_by: Annotated[OrderBy | None, Query()] = None,
    order_mode: Annotated[OrderMode, Query()] = OrderMode.ASC,
) -> dict:
    """Objects matching the filters, one page at a time (ALeRCE's ``query_objects``)."""
    check_paging(page, page_size)
    query = ObjectQuery(
        oids=oid or [], survey="ZTF", classifier=classifier,
        classifier_version=classifier_version,
        class_name=class_name, ranking=ranking, probability=probability,
        ndet=value_range("ndet", ndet), firstmjd=value_range("firstmjd", firstmjd),
        lastmjd=value_range("lastmjd", lastmjd), cone=cone_search(ra, dec, radius),
        order_by=order_by.value if order_by else None, order_mode=order_mode.value,
        page=page, page_size=page_size,
    )
    with db.connect() as conn:
        taxonomy = load_taxonomy(conn)
        check_classification_filters(query, taxonomy)
        first = objects_first(conn, query, count)
        rows = [schemas.clean_row(r)
                for r in page_rows(conn, query, default_classifier(taxonomy), first)]
        total = conn.execute(build_count(query, first)).scalar_one() if count else None
    has_next = len(rows) > page_size
    return {
        "total": total,
        "page": page,
        "next": page + 1 if has_next else None,
        "has_next": has_next,
        "prev": page - 1 if page > 1 else None,
        "has_prev": page > 1,
        "items": rows[:page_size],
    }


@router.get("/objects/{oid}", response_model=schemas.Object, tags=["objects"])
def get_object(db: Db, oid: Oid) -> dict:
    """One object's statistics (ALeRCE's ``query_object``)."""
    statement = select_for(tables.object_table, schemas.OBJECT_EXCLUDE, oid)
    with db.connect() as conn:
        row = conn.execute(statement).mappings().first()
    if row is None:
        raise HTTPException(404, f"Object {oid} not found")
    return schemas.clean_row(row)


# --- light curve ----------------------------------------------------------------------
@router.get("/objects/{oid}/lightcurve", response_model=schemas.LightCurve, tags=["lightcurve"])
def get_lightcurve(db: Db, oid: Oid) -> dict:
    """Detections and non-detections, oldest first."""
    with db.connect() as conn:
        require_object(conn, oid)
        return {"detections": _detections(conn, oid),
                "non_detections": _non_detections(conn, oid)}


@router.get("/objects/{oid}/detections", response_model=list[schemas.Detection],
            tags=["lightcurve"])
def get_detections(db: Db, oid: Oid) -> list[dict]:
    with db.connect() as conn:
        require_object(conn, oid)
        return _detections(conn, oid)


@router.get("/objects/{oid}/non_detections", response_model=list[schemas.NonDetection],
            tags=["lightcurve"])
def get_non_detections(db: Db, oid: Oid) -> list[dict]:
    with db.connect() as conn:
        require_object(conn, oid)
        return _non_detections(conn, oid)


def _detections(conn: Connection, oid: str) -> list[dict]:
    table = tables.detection
    return fetch_rows(conn, select_for(table, schemas.DETECTION_EXCLUDE, oid).order_by(table.c.mjd),
                 as_string=schemas.DETECTION_STRINGS)


def _non_detections(conn: Connection, oid: str) -> list[dict]:
    table = tables.non_detection
    return fetch_rows(conn, select_for(table, schemas.NON_DETECTION_EXCLUDE, oid)
                 .order_by(table.c.mjd, table.c.fid))


@v2_router.get("/lightcurve/forced-photometry/{oid}",
               response_model=list[schemas.ForcedPhotometry], tags=["lightcurve"])
def get_forced_photometry(db: Db, oid: Oid) -> list[dict]:
    """Forced photometry epochs (ZTF ``fp_hists``), oldest first.

    Each epoch's ``pid`` is also in its ``extra_fields``: the official client's pandas format
    joins the expanded extra fields back onto the epochs by the columns they share, and an
    epoch's processing id is the key that makes that join row by row."""
    table = tables.forced_photometry
    statement = (select_for(table, schemas.FORCED_PHOTOMETRY_EXCLUDE, oid)
                 .add_columns(table.c.extra.label("extra_fields")).order_by(table.c.mjd))
    with db.connect() as conn:
        require_object(conn, oid)
        rows = fetch_rows(conn, statement)
    for row in rows:
        row["extra_fields"] = {**(row["extra_fields"] or {}), "pid": row["pid"]}
    return rows


# --- per-object products --------------------------------------------------------------
@router.get("/objects/{oid}/magstats", response_model=list[schemas.Magstat], tags=["objects"])
def get_magstats(db: Db, oid: Oid) -> list[dict]:
    """Magnitude statistics per band."""
    table = tables.magstat
    with db.connect() as conn:
        require_object(conn, oid)
        return fetch_rows(conn, select_for(table, schemas.MAGSTAT_EXCLUDE, oid)
                     .order_by(table.c.fid))


@router.get("/objects/{oid}/probabilities", response_model=list[schemas.Probability],
            tags=["classifications"])
def get_probabilities(
    db: Db, oid: Oid,
    classifier: Annotated[str | None, Query(max_length=64)] = None,
    classifier_version: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict]:
    """Every classifier's probabilities for the object, most probable class first."""
    table = tables.probability
    statement = select_for(table, schemas.PROBABILITY_EXCLUDE, oid)
    if classifier is not None:
        statement = statement.where(table.c.classifier_name == classifier)
    if classifier_version is not None:
        statement = statement.where(table.c.classifier_version == classifier_version)
    with db.connect() as conn:
        require_object(conn, oid)
        return fetch_rows(conn, statement.order_by(table.c.classifier_name,
                                              table.c.classifier_version, table.c.ranking))


@router.get("/objects/{oid}/features", response_model=list[schemas.Feature], tags=["features"])
def get_features(
    db: Db, oid: Oid,
    fid: Annotated[int | None, Query(ge=0, le=3, description="0: no band, 1 g, 2 r, 3 i")] = None,
    version: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict]:
    """The features the light-curve classifier computed."""
    with db.connect() as conn:
        require_object(conn, oid)
        return _features(conn, oid, None, fid, version)


@router.get("/objects/{oid}/features/{name}", response_model=list[schemas.Feature],
            tags=["features"])
def get_feature(
    db: Db, oid: Oid, name: Annotated[str, Path(min_length=1, max_length=64)],
    fid: Annotated[int | None, Query(ge=0, le=3)] = None,
    version: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict]:
    """One feature, in every band it was computed for."""
    with db.connect() as conn:
        require_object(conn, oid)
        return _features(conn, oid, name, fid, version)


def _features(conn: Connection, oid: str, name: str | None, fid: int | None,
              version: str | None) -> list[dict]:
    table = tables.feature
    statement = select_for(table, schemas.FEATURE_EXCLUDE, oid)
    for column, value in ((table.c.name, name), (table.c.fid, fid), (table.c.version, version)):
        if value is not None:
            statement = statement.where(column == value)
    return fetch_rows(conn, statement.order_by(table.c.name, table.c.fid))


# --- classifiers ----------------------------------------------------------------------
@router.get("/classifiers", response_model=list[schemas.Classifier], tags=["classifiers"])
def list_classifiers(db: Db) -> list[dict]:
    """Every classifier with its version and classes."""
    with db.connect() as conn:
        taxonomy = load_taxonomy(conn)
    return [{"classifier_name": name, "classifier_version": version, "classes": classes}
            for (name, version), classes in taxonomy.items()]


@router.get("/classifiers/{classifier_name}/{classifier_version}/classes",
            response_model=list[schemas.ClassName], tags=["classifiers"])
def list_classes(
    db: Db,
    classifier_name: Annotated[str, Path(max_length=64)],
    classifier_version: Annotated[str, Path(max_length=32)],
) -> list[dict]:
    with db.connect() as conn:
        classes = load_taxonomy(conn).get((classifier_name, classifier_version))
    if classes is None:
        raise HTTPException(404, f"Classifier {classifier_name} version {classifier_version} "
                                 "not found")
    return [{"name": name} for name in classes]
