"""``alerce-classifier classify``: classifications without a store, one JSON line each.

``classify PATH...`` runs alerts through the same worker as ``replay`` against an
in-memory SQLite store and prints, per alert,
``{"objectId", "candid", "classifications": {name: {"version", "probabilities"}}}``.
``classify --detections CSV [--non-detections CSV]`` does the same per object for light
curves in ALeRCE's CSV format (objectId or oid, mjd, fid, magpsf, sigmapsf at least).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from classifier_service.alert import Alert, Detection
from classifier_service.classifiers.base import Classifier, ClassifierInput
from classifier_service.classifiers.registry import load_classifiers
from classifier_service.commands.options import CommandError
from classifier_service.lightcurve import build_lightcurve
from classifier_service.lightcurve.columns import as_int
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import ClassifiedAlert, DeadLetter
from classifier_service.stream.file_sink import classifications_dict
from classifier_service.worker import Worker


def run(args: argparse.Namespace) -> int:
    if bool(args.paths) == bool(args.detections):
        raise CommandError("give alert PATHs or --detections CSV (not both)")
    classifiers = load_classifiers(args.classifiers.split(",") if args.classifiers else None)
    if args.detections:
        lines = classify_csv(args.detections, args.non_detections, classifiers)
    else:
        lines = classify_archives(args.paths, classifiers, args.batch_size)
    for line in lines:
        print(json.dumps(line), flush=False)
    sys.stdout.flush()
    return 0


class _Collect:
    """A sink that keeps what it is given, for printing."""

    def __init__(self) -> None:
        self.alerts: list[ClassifiedAlert] = []

    def publish(self, alerts: Sequence[ClassifiedAlert], dead_letters: Sequence[DeadLetter]) -> None:
        self.alerts.extend(alerts)

    def flush(self) -> None: ...

    def close(self) -> None: ...


def classify_archives(paths: Sequence[str], classifiers: Sequence[Classifier],
                      batch_size: int = 500) -> Iterator[dict[str, Any]]:
    store = Store("sqlite://")
    store.create_all()
    sink = _Collect()
    worker = Worker(ArchiveSource(paths, batch_size=batch_size), store, classifiers, [sink])
    answering = {survey for classifier in classifiers for survey in classifier.surveys}
    for _ in _each_batch(worker):
        for alert in sink.alerts:
            line = {"objectId": alert.oid, "candid": alert.candid,
                    "classifications": classifications_dict(alert.classifications)}
            if not alert.classifications:  # say why, rather than leave an empty dict to puzzle over
                line["note"] = (f"no loaded classifier answers for {alert.survey} alerts"
                                if alert.survey not in answering else "no loaded classifier applies to this alert (too few detections for a light-curve "
                                     "classifier, no stamps or not the object's first alert for a stamp classifier)")
            yield line
        sink.alerts.clear()
    worker.close()
    store.dispose()


def _each_batch(worker: Worker) -> Iterator[None]:
    for batch in worker.source.batches():
        worker.process(batch)
        worker.source.commit(batch)
        yield None


def classify_csv(detections_csv: str, non_detections_csv: str | None,
                 classifiers: Sequence[Classifier]) -> Iterator[dict[str, Any]]:
    import pandas as pd

    # candids are 19-digit integers: read them as text so no float rounds them.
    detections = _with_oid(pd.read_csv(detections_csv, dtype={"candid": str}))
    non_detections = _with_oid(pd.read_csv(non_detections_csv)) if non_detections_csv else None
    nd_groups = dict(tuple(non_detections.groupby("oid"))) if non_detections is not None else {}
    inputs = []
    for oid, rows in detections.groupby("oid", sort=False):
        rows = rows.sort_values("mjd")
        nd = nd_groups.get(oid)
        lightcurve = build_lightcurve(str(oid), rows, nd if nd is not None else {"mjd": [], "fid": [], "diffmaglim": []})
        inputs.append(ClassifierInput(_alert_of(str(oid), rows), lightcurve, is_first_alert=False))
    outputs: list[list] = [[] for _ in inputs]
    for classifier in (c for c in classifiers if "ZTF" in c.surveys):  # the CSVs are ALeRCE's ZTF light curves
        for slot, result in zip(outputs, classifier.classify(inputs)):
            slot.extend(result.outputs)
    for item, outs in zip(inputs, outputs):
        yield {"objectId": item.alert.oid, "candid": item.alert.candid,
               "classifications": classifications_dict(outs)}


def _with_oid(frame):
    if "oid" not in frame.columns:
        if "objectId" not in frame.columns:
            raise CommandError("the CSV needs an objectId or oid column")
        frame = frame.rename(columns={"objectId": "oid"})
    return frame


def _alert_of(oid: str, rows) -> Alert:
    """A stand-in alert for an object known only from a CSV: its latest detection."""
    last = rows.iloc[-1]

    def get(name: str, default: Any = np.nan) -> Any:
        value = last.get(name, default)
        return default if value is None or (isinstance(value, float) and np.isnan(value)) else value

    candid = as_int(get("candid", -1))
    candidate = Detection(
        oid=oid, candid=candid, mjd=float(last["mjd"]), fid=int(last["fid"]),
        ra=float(get("ra")), dec=float(get("dec")), magpsf=float(last["magpsf"]),
        sigmapsf=float(last["sigmapsf"]), isdiffpos=1,
    )
    return Alert(survey="ZTF", oid=oid, candid=candid, schema_version="csv", candidate=candidate)
