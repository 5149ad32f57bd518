"""Rubin/LSST adapter: alert records of schema lsst.v10_0 and newer into the shared alert model.

Rubin reports fluxes in nJy where ZTF reports magnitudes, so the mapping converts them
(AB zero point 31.4 for nJy) and keeps the sign as ``isdiffpos``. Choices made here and
nowhere else:

* ``oid`` is ``str(diaObjectId)``; a source associated with a solar-system object instead
  (diaObjectId 0 or null) gets ``"ss" + str(ssObjectId)``: the two id spaces are separate
  in Rubin's databases, and the prefix keeps them apart in one ``oid`` column.
* Bands map to ``fid`` by :data:`alerce_contract.bands.FID_OF_BAND`: g, r, i keep ZTF's 1, 2, 3
  so that g/r features and colours mean the same for both surveys; u, z, y follow as 4, 5, 6.
* Rubin alerts carry no upper limits (``prvDiaNondetectionLimits`` left the schema in v8),
  so ``non_detections`` stays empty; forced photometry (``prvDiaForcedSources``) is the
  survey's answer to "how bright was it before".
* No reference-source fields (distnr, magnr) exist, so detections are never corrected to
  apparent magnitudes.
* The packet itself names no schema version. Fink's redistribution adds
  ``lsst_schema_version`` ("lsst.v10_0"); without it the version is read from the layout
  (v10 and v11 share every field read here; v8/v9 carry ``MPCORB``, v3–v7 ``alertId``).
"""
from __future__ import annotations

import math
import re
from typing import Any

from alerce_contract.bands import FID_OF_BAND, NJY_ZERO_POINT, flux_to_mag
from classifier_service.alert import JD_TO_MJD, Alert, Cutouts, Detection, ForcedPhotometry
from classifier_service.surveys.base import (
    ERROR_RANGE,
    AlertParseError,
    UnsupportedSchemaError,
    check_photometry,
    check_position,
    check_text,
    checked_id,
    checked_number,
    latest_mjd,
)

SURVEY = "LSST"
SUPPORTED_MAJORS = {"10", "11"}
# Rubin's first camera (ComCam) saw the sky in October 2024: no epoch predates 2023-02-25.
FIRST_MJD = 60000.0

# Top-level fields that tell one packet layout from another, newest first.
_LAYOUT_VERSIONS = (("mpc_orbits", "10.0"), ("MPCORB", "9.0"), ("alertId", "7.0"))
_FINK_VERSION = re.compile(r"lsst\.v(\d+)_(\d+)$")
_FORCED_FIELDS = {"diaObjectId", "visit", "midpointMjdTai", "band", "psfFlux", "psfFluxErr"}


def schema_version(record: dict[str, Any]) -> str:
    """The packet's schema version as "major.minor", from Fink's label or from the layout."""
    label = record.get("lsst_schema_version")
    if label is not None:
        match = _FINK_VERSION.match(str(label))
        if match is None:
            raise UnsupportedSchemaError(f"unrecognised Rubin schema label {label!r}")
        return f"{match[1]}.{match[2]}"
    for field, version in _LAYOUT_VERSIONS:
        if field in record:
            return version
    raise UnsupportedSchemaError("Rubin packet of an unknown layout (no mpc_orbits, MPCORB or alertId)")


def parse(record: dict[str, Any]) -> Alert:
    """One decoded Rubin alert record as an :class:`Alert`.

    A schema major outside SUPPORTED_MAJORS raises UnsupportedSchemaError; any other
    record that cannot be trusted an AlertParseError whose message is the dead-letter reason.
    """
    version = schema_version(record)
    if (major := version.partition(".")[0]) not in SUPPORTED_MAJORS:
        raise UnsupportedSchemaError(f"unsupported Rubin schema version {version!r} (major {major})")
    check_text(record)
    source = record.get("diaSource")
    if not isinstance(source, dict):
        raise AlertParseError("Rubin record has no diaSource")
    candid = checked_id(source.get("diaSourceId"), "diaSourceId")
    oid = object_id(source, record.get("diaObject"))
    try:
        return _alert(record, oid, candid, version)
    except (KeyError, TypeError, ValueError) as exc:  # AlertParseError is a ValueError: keep its text
        reason = str(exc) if isinstance(exc, AlertParseError) else f"{type(exc).__name__}: {exc}"
        raise AlertParseError(f"{oid}/{candid}: malformed Rubin record: {reason}") from exc


def _alert(record: dict[str, Any], oid: str, candid: int, version: str) -> Alert:
    source = record["diaSource"]
    epochs = (FIRST_MJD, latest_mjd())  # the MJDs an epoch may have: the survey's life
    candidate = _detection(oid, source, parent_candid=candid, where="diaSource", epochs=epochs)
    if candidate is None:
        raise AlertParseError("diaSource has no usable psfFlux/psfFluxErr")
    candidate.has_stamp = True
    return Alert(
        survey=SURVEY,
        oid=oid,
        candid=candid,
        schema_version=version,
        candidate=candidate,
        prv_detections=[det for i, row in enumerate(record.get("prvDiaSources") or ())
                        if (det := _detection(oid, row, candid, f"prvDiaSources[{i}]", epochs)) is not None],
        forced_photometry=[fp for i, row in enumerate(record.get("prvDiaForcedSources") or ())
                           if (fp := _forced(oid, row, f"prvDiaForcedSources[{i}]", epochs)) is not None],
        cutouts=Cutouts(
            science=_stamp(record.get("cutoutScience")),
            template=_stamp(record.get("cutoutTemplate")),
            difference=_stamp(record.get("cutoutDifference")),
        ),
        metadata=_metadata(candidate, source, record.get("diaObject"), record.get("ssSource")),
    )


def object_id(source: dict[str, Any], dia_object: dict[str, Any] | None) -> str:
    """The oid: the diaObjectId, else "ss" + the ssObjectId of a solar-system source.

    The diaSource's own diaObjectId comes first: it is a long in every copy of an alert,
    where Parquet redistributions hold diaObject.diaObjectId as a (rounded) double.
    """
    for value in (source.get("diaObjectId"), (dia_object or {}).get("diaObjectId")):
        if value:
            return str(checked_id(value, "diaObjectId"))
    ss_object = source.get("ssObjectId")
    if ss_object:
        return f"ss{checked_id(ss_object, 'ssObjectId')}"
    raise AlertParseError(f"diaSource {source.get('diaSourceId')} has neither a diaObjectId nor an ssObjectId")


def band_fid(band: Any) -> int:
    """The fid of a Rubin band name; an unknown band makes the record untrustworthy."""
    fid = FID_OF_BAND.get(band)
    if fid is None:
        raise AlertParseError(f"unknown Rubin band {band!r}")
    return fid


def _detection(oid: str, row: dict[str, Any], parent_candid: int, where: str,
               epochs: tuple[float, float]) -> Detection | None:
    """A diaSource as a detection, every stored value checked; None when its flux or error is
    unmeasured (null, NaN) or the flux is zero."""
    flux, flux_err = _finite_or_none(row.get("psfFlux")), _finite_or_none(row.get("psfFluxErr"))
    if not flux or flux_err is None:
        return None
    checked_number(flux_err, where, "psfFluxErr", ERROR_RANGE, above=True)
    magpsf, sigmapsf = flux_to_mag(flux, flux_err)
    check_photometry(magpsf, sigmapsf, where)
    check_position(row.get("ra"), row.get("dec"), where)
    return Detection(
        oid=oid,
        candid=checked_id(row.get("diaSourceId"), "diaSourceId", where),
        mjd=checked_number(row.get("midpointMjdTai"), where, "midpointMjdTai", epochs),
        fid=band_fid(row.get("band")),
        ra=row["ra"],
        dec=row["dec"],
        magpsf=magpsf,
        sigmapsf=sigmapsf,
        isdiffpos=1 if flux > 0 else -1,
        rb=row.get("reliability"),
        pid=row.get("visit"),
        parent_candid=parent_candid,
        extra=row,
    )


def _forced(oid: str, row: dict[str, Any], where: str, epochs: tuple[float, float]) -> ForcedPhotometry | None:
    """A diaForcedSource as forced photometry (flux in nJy, zero point 31.4); None without a band."""
    if row.get("band") is None or row.get("visit") is None:
        return None
    return ForcedPhotometry(
        oid=oid,
        pid=checked_id(row["visit"], "visit", where),
        mjd=checked_number(row.get("midpointMjdTai"), where, "midpointMjdTai", epochs),
        fid=band_fid(row["band"]),
        forcediffimflux=_finite_or_none(row.get("psfFlux")),
        forcediffimfluxunc=_finite_or_none(row.get("psfFluxErr")),
        magzpsci=NJY_ZERO_POINT,
        diffmaglim=None,
        extra={k: v for k, v in row.items() if k not in _FORCED_FIELDS},
    )


def _metadata(candidate: Detection, source: dict[str, Any], dia_object: dict[str, Any] | None,
              ss_source: dict[str, Any] | None) -> dict[str, Any]:
    """The candidate fields the classifiers read, under ZTF's names where one fits.

    reliability plays ZTF's rb; nDiaSources its ndethist; the diaObject's first and last
    source times its jdstarthist/jdendhist (as JD, like ZTF's); a solar-system match fills
    ssnamenr (designation) and ssdistnr (ephOffset, arcsec); its ephVmag is left out (0.0
    in the real v10 alerts, a placeholder). Rubin has no PS1 neighbours (sgscore, distpsnr).
    """
    metadata: dict[str, Any] = {
        "ra": candidate.ra, "dec": candidate.dec, "magpsf": candidate.magpsf,
        "sigmapsf": candidate.sigmapsf, "isdiffpos": candidate.isdiffpos,
        "rb": source.get("reliability"), "extendedness": source.get("extendedness"),
        "snr": source.get("snr"),
    }
    if dia_object:
        metadata["ndethist"] = dia_object.get("nDiaSources")
        for mjd_key, jd_key in (("firstDiaSourceMjdTai", "jdstarthist"), ("lastDiaSourceMjdTai", "jdendhist")):
            if dia_object.get(mjd_key) is not None:
                metadata[jd_key] = dia_object[mjd_key] + JD_TO_MJD
    if ss_source and ss_source.get("ssObjectId"):
        metadata.update(ssnamenr=ss_source.get("designation"), ssdistnr=ss_source.get("ephOffset"))
    return {key: value for key, value in metadata.items() if value is not None}


def _stamp(data: bytes | None) -> bytes | None:
    """Rubin sends each cutout as plain (uncompressed) multi-extension FITS bytes."""
    return bytes(data) if data else None


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
