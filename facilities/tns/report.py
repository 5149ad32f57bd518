"""Build TNS bulk AT reports the way ALeRCE sends them.

Pure functions from a candidate's light curve to the ``at_report`` JSON; no Django and no
HTTP here. The layout, ids and units follow ALeRCE's own reports to TNS since 2020
(reporting group 74, ZTF as discovery data source 48, instrument 196, filters g=110,
r=111, i=112, AB magnitudes as flux_units "1", times as "YYYY-MM-DD HH:MM:SS.fff" UTC);
tests/facilities/test_tns_report_builder.py checks them against ALeRCE's real reports.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.time import Time

from alerce_contract.bands import band_name
from alerce_contract.sky import position_problem

ZTF_INSTRUMENT_ID = "196"
ZTF_FILTER_IDS = {1: "110", 2: "111", 3: "112"}
AB_MAG_UNITS = "1"
AT_TYPE_PSN = "1"  # "PSN": possible supernova
REPORTED_CLASS = "SN"  # the class a PSN report stands for
ALERCE_GROUP_ID = "74"
ZTF_DATA_SOURCE_ID = "48"
ZTF_EXPTIME = "30"
ARCHIVE_OTHER = "0"
# ZTF alert positions are good to about 0.085 arcsec (ALeRCE's reports since 2022).
DEFAULT_POSITION_ERROR_ARCSEC = 0.085
# A rise is claimed only when it is this many sigma above zero, and only from a limit taken
# at least half a day before: a same-night limit says more about that image than the object.
RISE_SIGNIFICANCE = 3.0
MIN_RISE_BASELINE_DAYS = 0.5
ALERCE_CLASSIFIER_DESCRIPTIONS = {
    "stamp_classifier": "ALeRCE's stamp classifier (Carrasco-Davis et al. 2021)",
    "lc_classifier": "ALeRCE's light curve classifier (Sanchez-Saez et al. 2021)",
}


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
    classifier: str | None = "stamp_classifier"  # None: no classifier has classified the object
    class_name: str = "SN"
    probability: float | None = None
    host_name: str | None = None  # ALeRCE sends the key whenever it looked for a host, even ""
    host_redshift: float | str | None = None  # a catalogue's text (e.g. "0.130") is kept as written
    position_error_arcsec: float = DEFAULT_POSITION_ERROR_ARCSEC


@dataclass(frozen=True)
class ReporterSettings:
    reporter: str
    group_id: str = ALERCE_GROUP_ID
    data_source_id: str = ZTF_DATA_SOURCE_ID
    object_url: str = "https://alerce.online/object/{oid}"
    observer: str = "Robot"
    comments: str = "Data provided by ZTF"
    classifier_descriptions: dict[str, str] = field(default_factory=lambda: dict(ALERCE_CLASSIFIER_DESCRIPTIONS))

    def describe(self, classifier: str) -> str:
        return self.classifier_descriptions.get(classifier, f"the {classifier}")


def tns_datetime(mjd: float) -> str:
    """MJD to TNS's 'YYYY-MM-DD HH:MM:SS.fff' (UTC)."""
    return Time(mjd, format="mjd", scale="utc").to_value("iso", subfmt="date_hms")


def rise_rate(detections: Sequence[PhotometryPoint], non_detections: Sequence[UpperLimit],
              fid: int) -> tuple[float, float] | None:
    """A lower bound on the brightening in one band, in mag/day, with its error (ALeRCE's "rise >").

    From the band's last non-detection to its first detection: the object was fainter than
    the limit then, so it rose at least (limit - mag) / dt. None without both in the band.
    """
    points = sorted((p for p in detections if p.fid == fid), key=lambda p: p.mjd)
    if not points:
        return None
    first = points[0]
    limit = last_non_detection_before([nd for nd in non_detections if nd.fid == fid],
                                      first.mjd - MIN_RISE_BASELINE_DAYS)
    if limit is None:
        return None
    dt = first.mjd - limit.mjd
    return (limit.limit - first.mag) / dt, first.mag_err / dt


def significant_rises(candidate: ReportCandidate) -> dict[int, tuple[float, float]]:
    """fid -> (rate, error) for the bands whose rise is clearly above zero."""
    rises = {}
    for fid in (1, 2):
        rate = rise_rate(candidate.detections, candidate.non_detections, fid)
        if rate is not None and rate[0] > RISE_SIGNIFICANCE * rate[1]:
            rises[fid] = rate
    return rises


def last_non_detection_before(non_detections: Sequence[UpperLimit], mjd: float) -> UpperLimit | None:
    earlier = [nd for nd in non_detections if nd.mjd < mjd]
    return max(earlier, key=lambda nd: nd.mjd) if earlier else None


def remarks(candidate: ReportCandidate, settings: ReporterSettings) -> str:
    """ALeRCE's remark: the rise rates, the classifier (and its probability), where to look."""
    rises = [f"{band_name(fid)}-rise > {rate:.2f}+-{error:.2f} mag/day"
             for fid, (rate, error) in significant_rises(candidate).items()]
    prefix = f"{'Early ' if rises else ''}{candidate.class_name} candidate"
    if rises:
        prefix += f" ({', '.join(rises)})"
    score = (f" with P({candidate.class_name}) = {candidate.probability:.2f}"
             if candidate.probability is not None else "")
    url = settings.object_url.format(oid=candidate.internal_name)
    source = (f"classified using {settings.describe(candidate.classifier)}{score} and the public ZTF stream"
              if candidate.classifier else "from the public ZTF stream (not classified)")
    return f"{prefix} {source}. Discovery image and light curve in {url} "


def build_at_report(candidate: ReportCandidate, settings: ReporterSettings) -> dict:
    """One entry of a bulk report's ``at_report`` (see :func:`bulk_report`)."""
    if not candidate.detections:
        raise ValueError(f"{candidate.internal_name}: a report needs at least one detection")
    problem = position_problem(candidate.ra, candidate.dec)  # TNS would feed back on ra/dec and store nothing
    if problem:
        raise ValueError(f"{candidate.internal_name}: impossible coordinates: {problem}")
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
    if candidate.host_name is not None:
        report["host_name"] = candidate.host_name
    if candidate.host_redshift is not None:
        report["host_redshift"] = (candidate.host_redshift if isinstance(candidate.host_redshift, str)
                                   else _fmt(candidate.host_redshift))
    elif candidate.host_name == "":  # a host was looked for and none found: both left empty
        report["host_redshift"] = ""
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
        "limiting_flux": _magnitude(last.limit),
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
        "flux": _magnitude(point.mag),
        "flux_error": _magnitude(point.mag_err),
        "limiting_flux": _magnitude(point.limit) if point.limit is not None else "",
        "flux_units": AB_MAG_UNITS,
        "filter_value": ZTF_FILTER_IDS[point.fid],
        "instrument_value": ZTF_INSTRUMENT_ID,
        "exptime": ZTF_EXPTIME,
        "observer": settings.observer,
        "comments": settings.comments,
    }


def _fmt(value: float) -> str:
    """TNS takes numbers as strings: the shortest text that gives the float back (positions, errors)."""
    return repr(float(value))


def _magnitude(value: float) -> str:
    """ZTF magnitudes are float32: one that is exactly a float32 is written at float32 precision
    ("19.796337", as ALeRCE does since 2022) rather than as its float64 expansion."""
    single = np.float32(value)
    return str(single) if float(single) == float(value) and np.isfinite(single) else _fmt(value)
