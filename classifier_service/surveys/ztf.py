"""ZTF adapter: Avro alert records of schema 1.8 and 3.0 to 4.02 into the shared alert model.

The ZTF schema has changed little in the fields we use, so one mapping serves every
version; what differs (no ``schemavsn`` in 1.8, no top-level ``candid`` in files written
by Spark, ``fp_hists`` from 4.01 on) is handled here and nowhere else.
"""
from __future__ import annotations

import math
from typing import Any

from alerce_contract.bands import SURVEY_FIDS
from alerce_contract.names import ZTF_OID
from classifier_service.alert import (
    JD_TO_MJD,
    Alert,
    Cutouts,
    Detection,
    ForcedPhotometry,
    NonDetection,
)
from classifier_service.surveys.base import (
    MAG_RANGE,
    AlertParseError,
    UnsupportedSchemaError,
    check_photometry,
    check_position,
    check_text,
    checked_id,
    checked_number,
    latest_mjd,
)

SURVEY = "ZTF"
FIDS = SURVEY_FIDS[SURVEY]
# ZTF saw first light on 2017-11-01; no ZTF epoch can predate this (2017-09-03).
FIRST_JD = 2458000.5
# The store's detection.rbversion / drbversion columns hold this many characters.
VERSION_CHARS = 16
_ISDIFFPOS = {"t": 1, "1": 1, "f": -1, "0": -1}
# fp_hists fields that ForcedPhotometry holds as attributes; the rest go to its ``extra``.
_FORCED_COLUMNS = ("pid", "jd", "fid", "forcediffimflux", "forcediffimfluxunc", "magzpsci", "diffmaglim")
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
    message fit for a dead-letter row when the record cannot be trusted: malformed
    identifiers or text, and physically impossible values anywhere in what is stored.
    """
    version = schema_version(record)
    if version.split(".")[0] not in SUPPORTED_MAJORS:
        raise UnsupportedSchemaError(f"unsupported ZTF schema version {version[:40]!r}")
    check_text(record)
    candidate = record.get("candidate")
    oid = record.get("objectId")
    if not isinstance(candidate, dict) or not oid:
        raise AlertParseError("record has no objectId or candidate")
    if not isinstance(oid, str) or not ZTF_OID.fullmatch(oid):
        raise AlertParseError(f"objectId {oid!r} is not a ZTF id (ZTF, 2 digits, 7 lower-case letters)")
    candid = record.get("candid") or candidate.get("candid")
    if candid is None:
        raise AlertParseError(f"{oid}: candidate has no candid")
    if candidate.get("magpsf") is None or candidate.get("jd") is None:
        raise AlertParseError(f"{oid}/{candid}: candidate has no magpsf or jd")
    try:
        return _alert(record, oid, checked_id(candid, "candid"), version)
    except AlertParseError as exc:
        raise AlertParseError(f"{oid}/{candid}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise AlertParseError(f"{oid}/{candid}: malformed ZTF record: {type(exc).__name__}: {exc}") from exc


def _alert(record: dict[str, Any], oid: str, candid: int, version: str) -> Alert:
    candidate = record["candidate"]
    if candidate.get("candid") != candid:
        raise AlertParseError(f"candidate.candid {candidate.get('candid')!r} is not the alert's candid")
    epochs = (FIRST_JD, latest_mjd() + JD_TO_MJD)  # the JDs an epoch may have: the survey's life
    detection = _detection(oid, candidate, parent_candid=candid, where="candidate", epochs=epochs)
    detection.has_stamp = True
    prv_detections: list[Detection] = []
    non_detections: list[NonDetection] = []
    for i, prv in enumerate(record.get("prv_candidates") or ()):
        if prv.get("jd") is None:
            continue
        where = f"prv_candidates[{i}]"
        if prv.get("magpsf") is None:
            mjd = _mjd(prv["jd"], where, epochs)
            fid = _fid(prv.get("fid"), where)
            limit = prv.get("diffmaglim")  # ZTF writes placeholders (-1006.94) for unknown limits
            if _finite(limit) and MAG_RANGE[0] < limit < MAG_RANGE[1]:
                non_detections.append(NonDetection(oid=oid, mjd=mjd, fid=fid, diffmaglim=float(limit)))
        elif prv.get("candid") is not None:
            prv_detections.append(_detection(oid, prv, parent_candid=candid, where=where, epochs=epochs))

    return Alert(
        survey=SURVEY,
        oid=oid,
        candid=candid,
        schema_version=version,
        candidate=detection,
        prv_detections=prv_detections,
        non_detections=non_detections,
        forced_photometry=[_forced(oid, fp, f"fp_hists[{i}]", epochs)
                           for i, fp in enumerate(record.get("fp_hists") or ()) if fp.get("jd")],
        cutouts=Cutouts(
            science=_stamp(record.get("cutoutScience")),
            template=_stamp(record.get("cutoutTemplate")),
            difference=_stamp(record.get("cutoutDifference")),
        ),
        metadata={k: candidate.get(k) for k in METADATA_FIELDS if k in candidate},
    )


def _detection(oid: str, row: dict[str, Any], parent_candid: int, where: str,
               epochs: tuple[float, float]) -> Detection:
    """A candidate or earlier detection, every stored value checked."""
    check_position(row.get("ra"), row.get("dec"), where)
    check_photometry(row.get("magpsf"), row.get("sigmapsf"), where)
    isdiffpos = _ISDIFFPOS.get(row.get("isdiffpos", "t"))
    if isdiffpos is None:
        raise AlertParseError(f"{where} isdiffpos {row.get('isdiffpos')!r} is not t, f, 1 or 0")
    for name in ("rbversion", "drbversion"):
        if len(row.get(name) or "") > VERSION_CHARS:
            raise AlertParseError(f"{where} {name} is longer than {VERSION_CHARS} characters")
    return Detection(
        oid=oid,
        candid=checked_id(row["candid"], "candid", where),
        mjd=_mjd(row["jd"], where, epochs),
        fid=_fid(row.get("fid"), where),
        ra=row["ra"],
        dec=row["dec"],
        magpsf=row["magpsf"],
        sigmapsf=row["sigmapsf"],
        isdiffpos=isdiffpos,
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


def _forced(oid: str, fp: dict[str, Any], where: str, epochs: tuple[float, float]) -> ForcedPhotometry:
    extra = fp.copy()  # the other fields, in their order: a copy less seven keys beats a comprehension
    for name in _FORCED_COLUMNS:
        extra.pop(name, None)
    return ForcedPhotometry(
        oid=oid,
        pid=checked_id(fp.get("pid"), "pid", where),
        mjd=_mjd(fp["jd"], where, epochs),
        fid=_fid(fp.get("fid"), where),
        forcediffimflux=_none_if_missing(fp.get("forcediffimflux")),
        forcediffimfluxunc=_none_if_missing(fp.get("forcediffimfluxunc")),
        magzpsci=fp.get("magzpsci"),
        diffmaglim=fp.get("diffmaglim"),
        extra=extra,
    )


def _stamp(cutout: dict[str, Any] | None) -> bytes | None:
    if not cutout:
        return None
    data = cutout.get("stampData")
    return bytes(data) if data else None


def _mjd(jd: Any, where: str, epochs: tuple[float, float]) -> float:
    """The MJD of a ZTF epoch, which must lie within the survey's life (``epochs``, in JD)."""
    return checked_number(jd, where, "jd", epochs) - JD_TO_MJD


def _fid(fid: Any, where: str) -> int:
    if isinstance(fid, bool) or fid not in FIDS:
        raise AlertParseError(f"{where} fid {fid!r} is not a ZTF filter {FIDS}")
    return int(fid)


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(value)


def _none_if_missing(value: float | None) -> float | None:
    """ZTF marks missing values with -999 and sometimes -99999; they must not reach the science."""
    if value is None or not math.isfinite(value) or value <= -999:
        return None
    return value
