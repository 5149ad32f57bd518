"""Light curves: merge an object's detections, correct them, and summarise them.

Pure functions over arrays (see ``columns``, ``correction`` and ``stats``); the worker
feeds them what the store holds plus what new alerts carry.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


from classifier_service.alert import Detection, NonDetection
from classifier_service.lightcurve.columns import (
    Columns,
    detection_columns,
    merge_detections,
    merge_non_detections,
    non_detection_columns,
    stored_detection_columns,
    stored_non_detection_columns,
    table_detection_columns,
    table_non_detection_columns,
)
from classifier_service.lightcurve.correction import dubious_flags, is_stellar
from classifier_service.lightcurve.model import LightCurve
from classifier_service.lightcurve.stats import magnitude_statistics, object_statistics

__all__ = ["LightCurve", "ObjectSummary", "build_lightcurve", "merge_with_stored", "summarise", "to_lightcurve"]


@dataclass(slots=True)
class ObjectSummary:
    """Everything the worker stores and classifies for one object after a batch."""

    lightcurve: LightCurve
    detections: Columns  # merged, time order, with "dubious"
    non_detections: Columns
    object_row: dict[str, Any]
    magstat_rows: list[dict[str, Any]]


def merge_with_stored(
    detections: Sequence[Detection], non_detections: Sequence[NonDetection],
    stored_detections: Sequence[Mapping[str, Any]] = (),
    stored_non_detections: Sequence[Mapping[str, Any]] = (),
) -> tuple[Columns, Columns]:
    """An object's stored rows merged with what new alerts carry, deduplicated, oldest first."""
    det_parts = [stored_detection_columns(stored_detections)] if stored_detections else []
    nd_parts = [stored_non_detection_columns(stored_non_detections)] if stored_non_detections else []
    return (merge_detections(*det_parts, detection_columns(list(detections))),
            merge_non_detections(*nd_parts, non_detection_columns(list(non_detections))))


def summarise(oid: str, detections: Columns, non_detections: Columns,
              metadata: dict[str, Any], survey: str = "ZTF") -> ObjectSummary:
    """Merged columns (time order) to the light curve and the object/magstat rows."""
    if detections["mjd"].size == 0:
        raise ValueError(f"{oid}: a light curve needs at least one detection")
    detections = dict(detections, dubious=dubious_flags(
        detections["mjd"], detections["fid"], detections["isdiffpos"], detections["corrected"]))
    stellar = is_stellar(bool(detections["corrected"][0]), metadata.get("distpsnr1"),
                         metadata.get("sgscore1"))
    magstats = magnitude_statistics(oid, detections, non_detections, stellar)
    return ObjectSummary(
        lightcurve=to_lightcurve(oid, detections, non_detections, metadata),
        detections=detections, non_detections=non_detections,
        object_row=object_statistics(oid, detections, magstats, metadata, survey),
        magstat_rows=magstats,
    )


def to_lightcurve(oid: str, det: Columns, nd: Columns, metadata: dict[str, Any]) -> LightCurve:
    """The shared LightCurve record from merged columns (``dubious`` computed if absent)."""
    dubious = det.get("dubious")
    if dubious is None:
        dubious = dubious_flags(det["mjd"], det["fid"], det["isdiffpos"], det["corrected"])
    return LightCurve(
        oid=oid, mjd=det["mjd"], fid=det["fid"], magpsf=det["magpsf"], sigmapsf=det["sigmapsf"],
        isdiffpos=det["isdiffpos"], magpsf_corr=det["magpsf_corr"],
        sigmapsf_corr=det["sigmapsf_corr"], sigmapsf_corr_ext=det["sigmapsf_corr_ext"],
        corrected=det["corrected"], dubious=dubious,
        nd_mjd=nd["mjd"], nd_fid=nd["fid"], nd_diffmaglim=nd["diffmaglim"], metadata=metadata,
        candid=det["candid"], ra=det["ra"], dec=det["dec"],
    )


def build_lightcurve(
    oid: str,
    detections: Sequence[Detection] | Mapping[str, Any],
    non_detections: Sequence[NonDetection] | Mapping[str, Any] = (),
    metadata: dict[str, Any] | None = None,
) -> LightCurve:
    """An object's LightCurve, deduplicated by candid and corrected as ALeRCE does.

    ``detections`` are alert-model Detections or a table of columns (dict of sequences or
    DataFrame; mjd, fid, magpsf, sigmapsf at least, as in ALeRCE's CSVs).
    """
    det = (table_detection_columns(detections) if _is_table(detections)
           else detection_columns(list(detections)))
    nd = (table_non_detection_columns(non_detections) if _is_table(non_detections)
          else non_detection_columns(list(non_detections)))
    return to_lightcurve(oid, merge_detections(det), merge_non_detections(nd), dict(metadata or {}))


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping) or hasattr(value, "columns")


