"""ZTF adapter: Avro alert records of schema 1.8 and 3.0 to 4.02 into the shared alert model.

The ZTF schema has changed little in the fields we use, so one mapping serves every
version; what differs (no ``schemavsn`` in 1.8, no top-level ``candid`` in files written
by Spark, ``fp_hists`` from 4.01 on) is handled here and nowhere else.
"""
from __future__ import annotations

import math
from typing import Any

from classifier_service.alert import (
    JD_TO_MJD,
    Alert,
    Cutouts,
    Detection,
    ForcedPhotometry,
    NonDetection,
)
from classifier_service.surveys.base import AlertParseError, UnsupportedSchemaError

SURVEY = "ZTF"
# Majors we know the layout of; within them a newer minor (say 4.03) is read the same way.
SUPPORTED_MAJORS = {"1", "3", "4"}

# Candidate metadata the stamp classifier and the light-curve features read.
METADATA_FIELDS = (
    "sgscore1", "sgscore2", "sgscore3", "distpsnr1", "distpsnr2", "distpsnr3", "sgmag1", "srmag1",
    "simag1", "szmag1", "isdiffpos", "fwhm", "magpsf", "sigmapsf", "ra", "dec", "diffmaglim",
    "classtar", "ndethist", "ncovhist", "jdstarthist", "jdendhist", "chinr", "sharpnr", "rb", "drb",
    "ssdistnr", "ssmagnr", "ssnamenr", "elong", "nbad", "neargaia", "maggaia", "programid",
)


def schema_version(record: dict[str, Any]) -> str:
    """The packet's schema version; ZTF's 1.8 packets predate the ``schemavsn`` field."""
    version = record.get("schemavsn")
    return "1.8" if version is None else str(version)


def parse(record: dict[str, Any]) -> Alert:
    """Map one decoded ZTF Avro record to an :class:`Alert`.

    Raises :class:`AlertParseError` (or its subclass for unknown schema versions) with a
    message fit for a dead-letter row when the record cannot be trusted.
    """
    version = schema_version(record)
    if version.split(".")[0] not in SUPPORTED_MAJORS:
        raise UnsupportedSchemaError(f"unsupported ZTF schema version {version!r}")
    candidate = record.get("candidate")
    oid = record.get("objectId")
    if not isinstance(candidate, dict) or not oid:
        raise AlertParseError("record has no objectId or candidate")
    candid = record.get("candid") or candidate.get("candid")
    if candid is None:
        raise AlertParseError(f"{oid}: candidate has no candid")
    if candidate.get("magpsf") is None or candidate.get("jd") is None:
        raise AlertParseError(f"{oid}/{candid}: candidate has no magpsf or jd")

    detection = _detection(oid, candidate, parent_candid=candid)
    detection.has_stamp = True
    prv_detections: list[Detection] = []
    non_detections: list[NonDetection] = []
    for prv in record.get("prv_candidates") or ():
        if prv.get("jd") is None:
            continue
        if prv.get("magpsf") is None:
            if _finite(prv.get("diffmaglim")):
                non_detections.append(NonDetection(
                    oid=oid, mjd=prv["jd"] - JD_TO_MJD, fid=int(prv["fid"]),
                    diffmaglim=float(prv["diffmaglim"]),
                ))
        elif prv.get("candid") is not None:
            prv_detections.append(_detection(oid, prv, parent_candid=candid))

    return Alert(
        survey=SURVEY,
        oid=oid,
        candid=int(candid),
        schema_version=version,
        candidate=detection,
        prv_detections=prv_detections,
        non_detections=non_detections,
        forced_photometry=[_forced(oid, fp) for fp in record.get("fp_hists") or () if fp.get("jd")],
        cutouts=Cutouts(
            science=_stamp(record.get("cutoutScience")),
            template=_stamp(record.get("cutoutTemplate")),
            difference=_stamp(record.get("cutoutDifference")),
        ),
        metadata={k: candidate.get(k) for k in METADATA_FIELDS if k in candidate},
    )


def _detection(oid: str, row: dict[str, Any], parent_candid: int) -> Detection:
    return Detection(
        oid=oid,
        candid=int(row["candid"]),
        mjd=row["jd"] - JD_TO_MJD,
        fid=int(row["fid"]),
        ra=row["ra"],
        dec=row["dec"],
        magpsf=row["magpsf"],
        sigmapsf=row["sigmapsf"],
        isdiffpos=-1 if row.get("isdiffpos") in ("f", "0") else 1,
        distnr=_none_if_missing(row.get("distnr")),
        magnr=_none_if_missing(row.get("magnr")),
        sigmagnr=_none_if_missing(row.get("sigmagnr")),
        rb=row.get("rb"),
        drb=row.get("drb"),
        diffmaglim=row.get("diffmaglim"),
        pid=row.get("pid"),
        field=row.get("field"),
        rcid=row.get("rcid"),
        parent_candid=parent_candid,
        extra=row,  # the whole survey record: copying out the other fields costs half the parse
    )


def _forced(oid: str, fp: dict[str, Any]) -> ForcedPhotometry:
    return ForcedPhotometry(
        oid=oid,
        pid=int(fp["pid"]),
        mjd=fp["jd"] - JD_TO_MJD,
        fid=int(fp["fid"]),
        forcediffimflux=_none_if_missing(fp.get("forcediffimflux")),
        forcediffimfluxunc=_none_if_missing(fp.get("forcediffimfluxunc")),
        magzpsci=fp.get("magzpsci"),
        diffmaglim=fp.get("diffmaglim"),
        extra={k: v for k, v in fp.items() if k not in {
            "pid", "jd", "fid", "forcediffimflux", "forcediffimfluxunc", "magzpsci", "diffmaglim"}},
    )


def _stamp(cutout: dict[str, Any] | None) -> bytes | None:
    if not cutout:
        return None
    data = cutout.get("stampData")
    return bytes(data) if data else None


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(value)


def _none_if_missing(value: float | None) -> float | None:
    """ZTF marks missing values with -999 and sometimes -99999; they must not reach the science."""
    if value is None or not math.isfinite(value) or value <= -999:
        return None
    return value
