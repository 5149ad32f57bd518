"""The stamp routes over the cutouts the store keeps: avro.alerce.online's ``get_stamp``
(ZTF) and the multisurvey API's ``stamps_api/stamp`` (LSST).

The store keeps the stamps of each object's first alert (ALeRCE's stamp-classifier
moment), so a candid other than that one is a 404 that names the candid it does have.
The alert packets themselves are not kept, so no ``get_avro`` is offered.
"""
from __future__ import annotations

import logging
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import Engine, select

from alerce_contract.stamps import CutoutError
from classifier_service.api.db import store
from classifier_service.api.gate import LSST_SURVEY_PATTERN, OID_PATTERN
from classifier_service.api.stamps import (
    content_disposition,
    gzipped_fits,
    plain_fits,
    stamp_png,
)
from classifier_service.store.tables import cutout

log = logging.getLogger(__name__)
router = APIRouter()
# ALeRCE's multisurvey stamp service (the "stamps" entry of the alerce client's config).
ms_router = APIRouter(prefix="/stamps_api")

Db = Annotated[Engine, Depends(store)]
Oid = Annotated[str, Query(min_length=1, max_length=32, pattern=OID_PATTERN)]
Candid = Annotated[int, Query(ge=0, le=2**63 - 1)]
STAMP_RESPONSES = {200: {"content": {"image/png": {}, "application/fits": {}},
                         "description": "PNG, or FITS (gzip-compressed unless asked not to be)"}}


class StampType(str, Enum):
    science = "science"
    template = "template"
    difference = "difference"


class LsstStampType(str, Enum):
    cutoutScience = "cutoutScience"
    cutoutTemplate = "cutoutTemplate"
    cutoutDifference = "cutoutDifference"


class StampFormat(str, Enum):
    fits = "fits"
    png = "png"


@router.get("/get_stamp", tags=["stamps"], response_class=Response, responses=STAMP_RESPONSES)
def get_stamp(
    db: Db, oid: Oid, candid: Candid,
    type: Annotated[StampType, Query()] = StampType.science,  # noqa: A002 (ALeRCE's name)
    format: Annotated[StampFormat, Query()] = StampFormat.png,  # noqa: A002
) -> Response:
    """One cutout of an alert: PNG (zscale) or gzip-compressed FITS as the survey sent it."""
    return _stamp(db, oid, candid, type, format)


@ms_router.get("/stamp", tags=["lsst"], response_class=Response, responses=STAMP_RESPONSES)
def get_lsst_stamp(
    db: Db, oid: Oid, measurement_id: Candid, stamp_type: LsstStampType,
    file_format: StampFormat, survey_id: Annotated[str, Query(pattern=LSST_SURVEY_PATTERN)],
    is_compressed: bool = True,
) -> Response:
    """One cutout of a Rubin alert, named by its diaSourceId (``measurement_id``)."""
    kind = StampType(stamp_type.value.removeprefix("cutout").lower())
    return _stamp(db, oid, measurement_id, kind, file_format, gzipped=is_compressed)


def _stamp(db: Engine, oid: str, candid: int, kind: StampType, fmt: StampFormat,
           gzipped: bool = True) -> Response:
    with db.connect() as conn:
        row = conn.execute(select(cutout).where(cutout.c.oid == oid)).mappings().first()
    if row is None:
        raise HTTPException(404, f"no stamps stored for object {oid}")
    if row["candid"] != candid:
        raise HTTPException(404, f"object {oid} has stamps for candid {row['candid']} only")
    stored = row[kind.value]
    if not stored:
        raise HTTPException(404, f"object {oid} has no {kind.value} stamp")
    name = f"{oid}_{candid}_{kind.value}"
    if fmt is StampFormat.fits:
        fits, filename = ((gzipped_fits(stored), f"{name}.fits.gz") if gzipped
                          else (plain_fits(stored), f"{name}.fits"))
        return Response(fits, media_type="application/fits",
                        headers={"Content-Disposition": content_disposition(filename)})
    try:
        png = stamp_png(stored)
    except CutoutError as exc:
        log.warning("stored %s stamp of %s/%s is unreadable: %s", kind.value, oid, candid, exc)
        raise HTTPException(404, f"the stored {kind.value} stamp is unreadable: {exc}") from exc
    return Response(png, media_type="image/png",
                    headers={"Content-Disposition": content_disposition(f"{name}.png")})
