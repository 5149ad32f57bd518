"""Build TNS bulk AT reports the way ALeRCE sends them.

Pure functions from a candidate's light curve to the ``at_report`` JSON; no Django and no
HTTP here. The layout, ids and units follow ALeRCE's own reports to TNS (reporting group
74, ZTF as discovery data source 48, instrument 196, filters g=110, r=111, i=112, AB
magnitudes as flux_units "1", times as "YYYY-MM-DD HH:MM:SS.fff" UTC).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.time import Time

ZTF_INSTRUMENT_ID = "196"
ZTF_FILTER_IDS = {1: "110", 2: "111", 3: "112"}
FILTER_NAMES = {1: "g", 2: "r", 3: "i"}
AB_MAG_UNITS = "1"
AT_TYPE_PSN = "1"  # "PSN": possible supernova
ALERCE_GROUP_ID = "74"
ZTF_DATA_SOURCE_ID = "48"
ZTF_EXPTIME = "30"
ARCHIVE_OTHER = "0"
# ZTF alert positions are good to about 0.085 arcsec (ALeRCE's reports since 2022).
DEFAULT_POSITION_ERROR_ARCSEC = 0.085


@dataclass(frozen=True)
class PhotometryPoint:
    mjd: float
    fid: int
    mag: float
    mag_err: float
    limit: float | None = None  # the exposure's limiting magnitude (diffmaglim)


@dataclass(frozen=True)
class UpperLimit:
    mjd: float
    fid: int
    limit: float


@dataclass(frozen=True)
class ReportCandidate:
    """What a report says about one object."""

    internal_name: str  # the ZTF oid
    ra: float
    dec: float
    detections: Sequence[PhotometryPoint]
    non_detections: Sequence[UpperLimit] = ()
    classifier: str = "stamp_classifier"
    class_name: str = "SN"
    probability: float | None = None
    host_name: str | None = None
    host_redshift: float | None = None
    position_error_arcsec: float = DEFAULT_POSITION_ERROR_ARCSEC


@dataclass(frozen=True)
class ReporterSettings:
    reporter: str
    group_id: str = ALERCE_GROUP_ID
    data_source_id: str = ZTF_DATA_SOURCE_ID
    object_url: str = "https://alerce.online/object/{oid}"
    observer: str = "Robot"
    comments: str = "Data provided by ZTF"
    extra: dict = field(default_factory=dict)


def tns_datetime(mjd: float) -> str:
    """MJD to TNS's 'YYYY-MM-DD HH:MM:SS.fff' (UTC)."""
    return Time(mjd, format="mjd", scale="utc").to_value("iso", subfmt="date_hms")


def rise_rate(detections: Sequence[PhotometryPoint], fid: int) -> tuple[float, float] | None:
    """Brightening in mag/day in one band between its first two detections, with its error.

    Positive means rising. None with fewer than two detections a few hours apart.
    """
    points = sorted((p for p in detections if p.fid == fid), key=lambda p: p.mjd)
    if len(points) < 2:
        return None
    first, second = points[0], points[1]
    dt = second.mjd - first.mjd
    if dt < 0.1:
        return None
    rate = (first.mag - second.mag) / dt
    error = float(np.hypot(first.mag_err, second.mag_err)) / dt
    return rate, error


def last_non_detection_before(non_detections: Sequence[UpperLimit], mjd: float) -> UpperLimit | None:
    earlier = [nd for nd in non_detections if nd.mjd < mjd]
    return max(earlier, key=lambda nd: nd.mjd) if earlier else None


def remarks(candidate: ReportCandidate, settings: ReporterSettings) -> str:
    """ALeRCE's remark: the rise rates, the classifier, its probability, and where to look."""
    rises = []
    for fid in (1, 2):
        rate = rise_rate(candidate.detections, fid)
        if rate is not None and rate[0] > 0:
            rises.append(f"{FILTER_NAMES[fid]}-rise > {rate[0]:.2f}+-{rate[1]:.2f} mag/day")
    prefix = f"Early {candidate.class_name} candidate" if rises else f"{candidate.class_name} candidate"
    if rises:
        prefix += f" ({', '.join(rises)})"
    score = f" with probability {candidate.probability:.2f}" if candidate.probability is not None else ""
    url = settings.object_url.format(oid=candidate.internal_name)
    return (f"{prefix} classified using the {candidate.classifier}{score} and the public ZTF stream. "
            f"Discovery image and light curve in {url} ")


def build_at_report(candidate: ReportCandidate, settings: ReporterSettings) -> dict:
    """One entry of a bulk report's ``at_report`` (see :func:`bulk_report`)."""
    if not candidate.detections:
        raise ValueError(f"{candidate.internal_name}: a report needs at least one detection")
    detections = sorted(candidate.detections, key=lambda p: p.mjd)
    discovery = detections[0]
    error = _fmt(candidate.position_error_arcsec)
    report = {
        "ra": {"value": _fmt(candidate.ra), "error": error, "units": "arcsec"},
        "dec": {"value": _fmt(candidate.dec), "error": error, "units": "arcsec"},
        "reporting_group_id": settings.group_id,
        "discovery_data_source_id": settings.data_source_id,
        "reporter": settings.reporter,
        "discovery_datetime": tns_datetime(discovery.mjd),
        "at_type": AT_TYPE_PSN,
        "internal_name": candidate.internal_name,
        "remarks": remarks(candidate, settings),
        "non_detection": _non_detection(candidate, discovery.mjd, settings),
        "photometry": {"photometry_group": {
            str(i): _photometry(point, settings) for i, point in enumerate(detections)
        }},
    }
    if candidate.host_name:
        report["host_name"] = candidate.host_name
    if candidate.host_redshift is not None:
        report["host_redshift"] = _fmt(candidate.host_redshift)
    return report


def bulk_report(reports: Sequence[dict]) -> dict:
    """The document TNS's bulk-report endpoint takes: {"at_report": {"0": ..., "1": ...}}."""
    return {"at_report": {str(i): report for i, report in enumerate(reports)}}


def _non_detection(candidate: ReportCandidate, discovery_mjd: float, settings: ReporterSettings) -> dict:
    last = last_non_detection_before(candidate.non_detections, discovery_mjd)
    if last is None:
        return {"archiveid": ARCHIVE_OTHER, "archival_remarks": "ZTF non-detection limits not available"}
    return {
        "obsdate": tns_datetime(last.mjd),
        "limiting_flux": _fmt(last.limit),
        "flux_units": AB_MAG_UNITS,
        "filter_value": ZTF_FILTER_IDS[last.fid],
        "instrument_value": ZTF_INSTRUMENT_ID,
        "exptime": ZTF_EXPTIME,
        "observer": settings.observer,
        "comments": settings.comments,
    }


def _photometry(point: PhotometryPoint, settings: ReporterSettings) -> dict:
    return {
        "obsdate": tns_datetime(point.mjd),
        "flux": _fmt(point.mag),
        "flux_error": _fmt(point.mag_err),
        "limiting_flux": _fmt(point.limit) if point.limit is not None else "",
        "flux_units": AB_MAG_UNITS,
        "filter_value": ZTF_FILTER_IDS[point.fid],
        "instrument_value": ZTF_INSTRUMENT_ID,
        "exptime": ZTF_EXPTIME,
        "observer": settings.observer,
        "comments": settings.comments,
    }


def _fmt(value: float) -> str:
    """TNS takes numbers as strings; ten significant digits keep positions to ~0.4 mas."""
    return format(float(value), ".10g")
