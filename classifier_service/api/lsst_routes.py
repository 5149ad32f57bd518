"""ALeRCE's LSST API (its multisurvey API, api-lsst.alerce.online) over the store's Rubin objects.

Routes, parameters and JSON shapes follow what the official ``alerce`` client calls with
``survey="lsst"``: ``object_api/list_objects`` and ``object``, ``lightcurve_api/{lightcurve,
detections, non_detections, forced-photometry}`` and ``probability_api/probability`` (the
stamps are in ``stamp_routes``). Two choices of our own: an object that exists but has no
classification yet has an empty probability list (ALeRCE answers 404), and a detection's
``psfFlux`` is recomputed from the stored magnitude (the store keeps magnitudes, zero point
31.4 for nJy), so it agrees with the alert's flux to float precision.
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field
from sqlalchemy import Connection, Engine, func, select

from alerce_contract.bands import ALERCE_LSST_BAND, ALERCE_LSST_BAND_ID, BAND_OF_FID, NJY_ZERO_POINT
from classifier_service.api import schemas
from classifier_service.api.db import store
from classifier_service.api.gate import LSST_OID_PATTERN, LSST_SURVEY_PATTERN
from classifier_service.api.gate import OID_PATTERN
from classifier_service.api.objects import (
    MAX_PAGE_SIZE,
    MAX_RADIUS_ARCSEC,
    ObjectQuery,
    build_count,
    check_paging,
    cone_search,
    value_range,
)
from classifier_service.api.reads import (
    check_classification_filters,
    default_classifier,
    load_taxonomy,
    objects_first,
    page_rows,
)
from classifier_service.store import tables

SURVEY = "LSST"  # the store's survey name
# ALeRCE's survey id for LSST (ztf 0, lsst 1), also its telescope id.
LSST_SID = LSST_TID = 1
MAG_ERROR_TO_FLUX = math.log(10) / 2.5

object_router = APIRouter(prefix="/object_api", tags=["lsst"])
lightcurve_router = APIRouter(prefix="/lightcurve_api", tags=["lsst"])
probability_router = APIRouter(prefix="/probability_api", tags=["lsst"])

Db = Annotated[Engine, Depends(store)]
Survey = Annotated[str, Query(pattern=LSST_SURVEY_PATTERN, description='"lsst" (ZTF has its own routes)')]
Oid = Annotated[str, Query(min_length=1, max_length=32, pattern=LSST_OID_PATTERN,
                           description="The diaObjectId (or ss + ssObjectId)")]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
# ALeRCE's LSST order_by names -> the store's columns.
ORDER_BY = {"oid": "oid", "meanra": "meanra", "meandec": "meandec", "firstmjd": "firstmjd",
            "lastmjd": "lastmjd", "n_det": "ndet", "deltamjd": "deltajd",
            "probability": "probability", "class_name": "class_name",
            "classifier_name": "classifier_name", "ranking": "ranking"}
OrderBy = Enum("LsstOrderBy", {name: name for name in ORDER_BY}, type=str)


class OrderMode(str, Enum):
    ASC = "ASC"
    DESC = "DESC"


# --- objects ----------------------------------------------------------------------------
@object_router.get("/list_objects", response_model=schemas.LsstObjectPage)
def list_objects(
    db: Db,
    survey: Survey = "lsst",
    oid: Annotated[list[Annotated[str, Field(min_length=1, max_length=32,
                                             pattern=OID_PATTERN)]] | None,
                   Query(max_length=1000)] = None,
    classifier: Annotated[str | None, Query(max_length=64)] = None,
    class_name: Annotated[str | None, Query(max_length=32)] = None,
    ranking: Annotated[int | None, Query(ge=1, le=1000)] = None,
    n_det: Annotated[list[FiniteFloat] | None, Query(description="min[, max]")] = None,
    probability: Annotated[float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False)] = None,
    firstmjd: Annotated[list[FiniteFloat] | None, Query(description="min[, max]")] = None,
    lastmjd: Annotated[list[FiniteFloat] | None, Query(description="min[, max]")] = None,
    ra: Annotated[float | None, Query(ge=0.0, le=360.0, allow_inf_nan=False)] = None,
    dec: Annotated[float | None, Query(ge=-90.0, le=90.0, allow_inf_nan=False)] = None,
    radius: Annotated[float | None, Query(gt=0.0, le=MAX_RADIUS_ARCSEC, allow_inf_nan=False)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
    count: bool = False,
    order_by: OrderBy | None = None,
    order_mode: OrderMode = OrderMode.DESC,
) -> dict:
    """Rubin objects matching the filters, one page at a time (``query_objects``)."""
    check_paging(page, page_size)
    query = ObjectQuery(
        oids=oid or [], survey=SURVEY, classifier=classifier, class_name=class_name,
        ranking=ranking, probability=probability, ndet=value_range("n_det", n_det),
        firstmjd=value_range("firstmjd", firstmjd), lastmjd=value_range("lastmjd", lastmjd),
        cone=cone_search(ra, dec, radius), order_by=ORDER_BY[order_by.value] if order_by else None,
        order_mode=order_mode.value, page=page, page_size=page_size)
    with db.connect() as conn:
        taxonomy = load_taxonomy(conn)
        check_classification_filters(query, taxonomy)
        default = default_classifier(taxonomy, SURVEY)
        first = objects_first(conn, query, count)
        rows = [dict(r) for r in page_rows(conn, query, default, first)]
        total = conn.execute(build_count(query, first)).scalar_one() if count else None
        shown = rows[:page_size]
        counts = _epoch_counts(conn, [r["oid"] for r in shown])
    version = default[1] if default and not query.filters_probabilities else None
    has_next = len(rows) > page_size
    return {
        "total": total, "next": page + 1 if has_next else None, "has_next": has_next,
        "prev": page - 1 if page > 1 else None, "has_prev": page > 1, "current_page": page,
        "items": [_list_item(r, counts, query.ranking or 1, version) for r in shown],
        "info_message": None,
    }


@object_router.get("/object", response_model=schemas.LsstObject)
def get_object(db: Db, oid: Oid, survey_id: Survey) -> dict:
    """One Rubin object (``query_object``)."""
    table = tables.object_table
    with db.connect() as conn:
        row = conn.execute(select(table).where(table.c.oid == oid, table.c.survey == SURVEY)
                           ).mappings().first()
        if row is None:
            raise HTTPException(404, f"Object {oid} not found")
        counts = _epoch_counts(conn, [oid])
    return _object(row, counts)


def _object(row, counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    n_forced, n_non_det = counts.get(row["oid"], (0, 0))
    return {
        "oid": _public_oid(row["oid"]), "tid": LSST_TID, "sid": LSST_SID,
        "meanra": row["meanra"], "meandec": row["meandec"],
        "sigmara": _finite(row["sigmara"]), "sigmadec": _finite(row["sigmadec"]),
        "firstmjd": row["firstmjd"], "lastmjd": row["lastmjd"],
        "deltamjd": _finite(row["deltajd"]) or 0.0, "n_det": row["ndet"],
        "n_forced": n_forced, "n_non_det": n_non_det,
    }


def _list_item(row, counts, ranking: int, version: str | None) -> dict[str, Any]:
    classified = row["class"] is not None
    return {**_object(row, counts), "stellar": row.get("stellar"),
            "class_name": row["class"], "classifier_name": row["classifier"],
            "classfier_version": version if classified else None,
            "probability": _finite(row["probability"]),
            "ranking": ranking if classified else None}


def _epoch_counts(conn: Connection, oids: list[str]) -> dict[str, tuple[int, int]]:
    """oid -> (forced-photometry epochs, non-detections) for the objects of one page."""
    if not oids:
        return {}
    counts: dict[str, list[int]] = {oid: [0, 0] for oid in oids}
    for i, table in enumerate((tables.forced_photometry, tables.non_detection)):
        statement = (select(table.c.oid, func.count()).where(table.c.oid.in_(oids))
                     .group_by(table.c.oid))
        for oid, n in conn.execute(statement):
            counts[oid][i] = n
    return {oid: (n[0], n[1]) for oid, n in counts.items()}


# --- light curve ------------------------------------------------------------------------
@lightcurve_router.get("/lightcurve", response_model=schemas.LsstLightCurve)
def get_lightcurve(db: Db, oid: Oid, survey_id: Survey) -> dict:
    """Detections, non-detections (none for Rubin) and forced photometry, oldest first."""
    with db.connect() as conn:
        _require_rubin_object(conn, oid)
        return {"detections": _detections(conn, oid), "non_detections": [],
                "forced_photometry": _forced_photometry(conn, oid)}


@lightcurve_router.get("/detections", response_model=list[schemas.LsstDetection])
def get_detections(db: Db, oid: Oid, survey_id: Survey) -> list[dict]:
    with db.connect() as conn:
        _require_rubin_object(conn, oid)
        return _detections(conn, oid)


@lightcurve_router.get("/non_detections", response_model=list[schemas.LsstNonDetection])
def get_non_detections(db: Db, oid: Oid, survey_id: Survey) -> list[dict]:
    """Always empty: Rubin alerts carry no upper limits."""
    with db.connect() as conn:
        _require_rubin_object(conn, oid)
    return []


@lightcurve_router.get("/forced-photometry", response_model=list[schemas.LsstForcedPhotometry])
def get_forced_photometry(db: Db, oid: Oid, survey_id: Survey) -> list[dict]:
    with db.connect() as conn:
        _require_rubin_object(conn, oid)
        return _forced_photometry(conn, oid)


def _detections(conn: Connection, oid: str) -> list[dict]:
    table = tables.detection
    statement = select(table).where(table.c.oid == oid).order_by(table.c.mjd)
    return [_detection(row) for row in conn.execute(statement).mappings()]


def _detection(row) -> dict[str, Any]:
    flux = row["isdiffpos"] * 10 ** ((NJY_ZERO_POINT - row["magpsf"]) / 2.5)
    return {
        **_epoch(row["oid"], row["candid"], row["mjd"], row["fid"], row["ra"], row["dec"]),
        "visit": row["pid"], "psfFlux": flux,
        "psfFluxErr": abs(flux) * row["sigmapsf"] * MAG_ERROR_TO_FLUX,
        "diaObjectId": _public_oid(row["oid"]) if row["oid"].isdigit() else None,
        "has_stamp": row["has_stamp"], "reliability": _finite(row["rb"]),
    }


def _forced_photometry(conn: Connection, oid: str) -> list[dict]:
    table = tables.forced_photometry
    statement = select(table).where(table.c.oid == oid).order_by(table.c.mjd)
    epochs = []
    for row in conn.execute(statement).mappings():
        extra = row["extra"] or {}
        epochs.append({
            **_epoch(row["oid"], extra.get("diaForcedSourceId") or row["pid"], row["mjd"],
                     row["fid"], extra.get("ra"), extra.get("dec")),
            "visit": row["pid"], "detector": extra.get("detector"),
            "psfFlux": _finite(row["forcediffimflux"]),
            "psfFluxErr": _finite(row["forcediffimfluxunc"]),
            "scienceFlux": _finite(extra.get("scienceFlux")),
            "scienceFluxErr": _finite(extra.get("scienceFluxErr")),
        })
    return epochs


def _epoch(oid: str, measurement_id: int, mjd: float, fid: int, ra, dec) -> dict[str, Any]:
    return {"oid": _public_oid(oid), "survey_id": "lsst", "measurement_id": measurement_id,
            "mjd": mjd, "ra": _finite(ra), "dec": _finite(dec),
            "band": ALERCE_LSST_BAND_ID[BAND_OF_FID[fid]], "band_map": ALERCE_LSST_BAND}


# --- probabilities ----------------------------------------------------------------------
@probability_router.get("/probability", response_model=list[schemas.LsstProbability])
def get_probabilities(
    db: Db, oid: Oid, survey_id: Survey = "lsst",
    classifier: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict]:
    """Every classifier's probabilities for the object, most probable class first."""
    table = tables.probability
    statement = select(table).where(table.c.oid == oid)
    if classifier is not None:
        statement = statement.where(table.c.classifier_name == classifier)
    statement = statement.order_by(table.c.classifier_name, table.c.classifier_version,
                                   table.c.ranking)
    with db.connect() as conn:
        _require_rubin_object(conn, oid)
        return [dict(row) for row in conn.execute(statement).mappings()]


# --- helpers ----------------------------------------------------------------------------
def _require_rubin_object(conn: Connection, oid: str) -> None:
    table = tables.object_table
    found = conn.execute(select(table.c.oid).where(table.c.oid == oid,
                                                   table.c.survey == SURVEY)).first()
    if found is None:
        raise HTTPException(404, f"Object {oid} not found")


def _public_oid(oid: str) -> int | str:
    """ALeRCE's LSST oids are integers (the diaObjectId); a solar-system "ss" id stays text."""
    return int(oid) if oid.isdigit() else oid


def _finite(value: Any) -> Any:
    return schemas.json_safe(value)
