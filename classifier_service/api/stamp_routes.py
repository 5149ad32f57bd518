"""avro.alerce.online's ``get_stamp`` route, over the cutouts the store keeps.

The store keeps the stamps of each object's first alert (ALeRCE's stamp-classifier
moment), so a candid other than that one is a 404 that names the candid it does have.
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
from classifier_service.api.gate import OID_PATTERN
from classifier_service.api.stamps import content_disposition, gzipped_fits, stamp_png
from classifier_service.store.tables import cutout

log = logging.getLogger(__name__)
router = APIRouter()


class StampType(str, Enum):
    science = "science"
    template = "template"
    difference = "difference"


class StampFormat(str, Enum):
    fits = "fits"
    png = "png"


@router.get(
    "/get_stamp", tags=["stamps"], response_class=Response,
    responses={200: {"content": {"image/png": {}, "application/fits": {}},
                     "description": "PNG, or gzip-compressed FITS"}},
)
def get_stamp(
    db: Annotated[Engine, Depends(store)],
    oid: Annotated[str, Query(min_length=1, max_length=32, pattern=OID_PATTERN)],
    candid: Annotated[int, Query(ge=0, le=2**63 - 1)],
    type: Annotated[StampType, Query()] = StampType.science,  # noqa: A002 (ALeRCE's name)
    format: Annotated[StampFormat, Query()] = StampFormat.png,  # noqa: A002
) -> Response:
    """One cutout of an alert: PNG (zscale) or gzip-compressed FITS as the survey sent it."""
    with db.connect() as conn:
        row = conn.execute(select(cutout).where(cutout.c.oid == oid)).mappings().first()
    if row is None:
        raise HTTPException(404, f"no stamps stored for object {oid}")
    if row["candid"] != candid:
        raise HTTPException(404, f"object {oid} has stamps for candid {row['candid']} only")
    stored = row[type.value]
    if not stored:
        raise HTTPException(404, f"object {oid} has no {type.value} stamp")
    name = f"{oid}_{candid}_{type.value}"
    if format is StampFormat.fits:
        return Response(gzipped_fits(stored), media_type="application/fits",
                        headers={"Content-Disposition": content_disposition(f"{name}.fits.gz")})
    try:
        png = stamp_png(stored)
    except CutoutError as exc:
        log.warning("stored %s stamp of %s/%s is unreadable: %s", type.value, oid, candid, exc)
        raise HTTPException(404, f"the stored {type.value} stamp is unreadable: {exc}") from exc
    return Response(png, media_type="image/png",
                    headers={"Content-Disposition": content_disposition(f"{name}.png")})
