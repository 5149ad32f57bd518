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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from classifier_service.alert import Alert, Detection
from classifier_service.classifiers.base import Classifier, ClassifierInput
from classifier_service.classifiers.registry import load_classifiers
from classifier_service.lightcurve import build_lightcurve
from classifier_service.lightcurve.columns import as_int
from classifier_service.settings import CommandError
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import ClassifiedAlert, DeadLetter
from classifier_service.stream.classified import classifications_dict
from classifier_service.worker import Worker

if TYPE_CHECKING:
    import pandas as pd


# The columns a light-curve CSV needs, each as its accepted names (ALeRCE's first).
DETECTION_COLUMNS = (("objectId", "oid"), ("mjd",), ("fid",), ("magpsf",), ("sigmapsf",))
NON_DETECTION_COLUMNS = (("objectId", "oid"), ("mjd", "jd"), ("fid",), ("diffmaglim",))


def run(args: argparse.Namespace) -> int:
    if args.non_detections and not args.detections:
        raise CommandError("--non-detections needs --detections (the light curves its upper limits belong to)")
    if bool(args.paths) == bool(args.detections):
        raise CommandError("give alert PATHs or --detections CSV (not both)")
    classifier_names = args.classifiers.split(",") if args.classifiers else None
    if args.detections:  # the CSVs are read before the classifiers load, so that a wrong file fails at once
        # candids are 19-digit integers: read them as text so no float rounds them.
        detections = read_table(args.detections, "--detections", DETECTION_COLUMNS, dtype={"candid": str})
        non_detections = (read_table(args.non_detections, "--non-detections", NON_DETECTION_COLUMNS)
                          if args.non_detections else None)
        lines = classify_csv(detections, non_detections, load_classifiers(classifier_names))
    else:
        lines = classify_archives(args.paths, load_classifiers(classifier_names), args.batch_size)
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


def read_table(path: Path, option: str, needed: Sequence[tuple[str, ...]], **read_options: Any) -> pd.DataFrame:
    """The CSV at ``path`` with an ``oid`` column; a file that is not such a table is a
    CommandError naming ``option``, the columns it lacks and those ``needed``."""
    import pandas as pd

    try:
        table = pd.read_csv(path, **read_options)
    except UnicodeDecodeError:
        raise CommandError(f"{option} {path}: not a CSV table (not UTF-8 text; a binary file?)") from None
    except pd.errors.EmptyDataError:
        raise CommandError(f"{option} {path}: not a CSV table (the file is empty)") from None
    except pd.errors.ParserError as exc:
        raise CommandError(f"{option} {path}: not a CSV table ({str(exc).strip()})") from None
    missing = [names for names in needed if not table.columns.isin(names).any()]
    if missing:
        raise CommandError(f"{option} {path} lacks the columns {_listed(missing)}; classify reads ALeRCE's "
                           f"{option.strip('-')} CSV, with {_listed(needed)} at least")
    return table if "oid" in table.columns else table.rename(columns={"objectId": "oid"})


def _listed(columns: Sequence[tuple[str, ...]]) -> str:
    """``[("objectId", "oid"), ("mjd",)]`` as "objectId (or oid), mjd", as a user reads them."""
    return ", ".join(names[0] + "".join(f" (or {other})" for other in names[1:]) for names in columns)


def classify_csv(detections: pd.DataFrame, non_detections: pd.DataFrame | None,
                 classifiers: Sequence[Classifier]) -> Iterator[dict[str, Any]]:
    """One line per object of ALeRCE-format light curves (tables from :func:`read_table`)."""
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
