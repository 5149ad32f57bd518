"""A small store of real ZTF alerts for the API tests, written straight into the tables.

Alerts from ../shared/data are parsed by the project's ZTF adapter and grouped per object;
the classifier outputs are deterministic stand-ins (a seeded Dirichlet draw per object)
because the API only has to serve what the store holds, whatever produced it.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, insert

from classifier_service.alert import Alert
from classifier_service.store import tables
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

ALERT_DIRS = (
    "ztf_alerts/ampel-ztf/ztf_public_20180819_mod1000",  # 30 objects, with cutouts
    "ztf_alerts/ampel-ztf/ZTF18abxhyqv_nocutouts",  # one object over 4 alerts, g/r/i
    "ztf_alerts/ztf-avro-alert",
    "ztf_alerts/alerce-pipeline/lc_classifier_example",  # 4.01, forced photometry
)
TAXONOMY = {
    ("stamp_classifier", "1.0.0"): ["AGN", "SN", "VS", "asteroid", "bogus"],
    ("lc_classifier", "1.0.0"): ["SNIa", "SNIbc", "SNII", "SLSN", "QSO", "AGN", "Blazar", "YSO",
                                 "CV/Nova", "LPV", "E", "DSCT", "RRL", "CEP", "Periodic-Other"],
    ("lc_classifier_top", "1.0.0"): ["Transient", "Stochastic", "Periodic"],
}
FEATURE_VERSION = "test-0.1"


def read_alerts(shared_data: Path) -> list[Alert]:
    alerts = []
    for directory in ALERT_DIRS:
        for path in sorted((shared_data / directory).glob("*.avro")):
            alerts.extend(parse_record(r) for r in iter_records(path.read_bytes()))
    return alerts


def fill_store(engine: Engine, alerts: Iterable[Alert]) -> None:
    """Create the tables and write every object, light curve, product and cutout."""
    tables.metadata.create_all(engine)
    by_oid: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_oid[alert.oid].append(alert)
    rows: dict[str, list[dict]] = defaultdict(list)
    for oid, object_alerts in sorted(by_oid.items()):
        _object_rows(oid, object_alerts, rows)
    rows["taxonomy"] = [{"classifier_name": n, "classifier_version": v, "classes": c}
                        for (n, v), c in TAXONOMY.items()]
    with engine.begin() as conn:
        for table in tables.metadata.sorted_tables:
            if rows.get(table.name):
                conn.execute(insert(table), rows[table.name])


def _object_rows(oid: str, alerts: list[Alert], rows: dict[str, list[dict]]) -> None:
    detections = {d.candid: d for a in alerts for d in a.detections}
    dets = sorted(detections.values(), key=lambda d: d.mjd)
    non_detections = {(n.fid, n.mjd): n for a in alerts for n in a.non_detections}
    mjd = np.array([d.mjd for d in dets])
    mag = np.array([d.magpsf for d in dets])
    fid = np.array([d.fid for d in dets])
    latest = max(alerts, key=lambda a: a.candidate.mjd)
    rows["object"].append({
        "oid": oid, "survey": "ZTF", "ndet": len(dets), "firstmjd": mjd.min(),
        "lastmjd": mjd.max(), "deltajd": mjd.max() - mjd.min(),
        "meanra": float(np.mean([d.ra for d in dets])),
        "meandec": float(np.mean([d.dec for d in dets])),
        "ndethist": latest.metadata.get("ndethist"), "ncovhist": latest.metadata.get("ncovhist"),
        "corrected": False, "stellar": False,
    })
    rows["detection"].extend({
        "candid": d.candid, "oid": oid, "mjd": d.mjd, "fid": d.fid, "pid": d.pid,
        "diffmaglim": d.diffmaglim, "isdiffpos": d.isdiffpos, "ra": d.ra, "dec": d.dec,
        "magpsf": d.magpsf, "sigmapsf": d.sigmapsf, "distnr": d.distnr, "rb": d.rb, "drb": d.drb,
        "magpsf_corr": float("nan"), "corrected": False, "dubious": False,
        "parent_candid": d.parent_candid, "has_stamp": d.has_stamp,
    } for d in dets)
    rows["non_detection"].extend({"oid": oid, "fid": n.fid, "mjd": n.mjd, "diffmaglim": n.diffmaglim}
                                 for n in non_detections.values())
    forced = {fp.pid: fp for a in alerts for fp in a.forced_photometry}
    rows["forced_photometry"].extend({
        "oid": oid, "pid": fp.pid, "mjd": fp.mjd, "fid": fp.fid,
        "forcediffimflux": fp.forcediffimflux, "forcediffimfluxunc": fp.forcediffimfluxunc,
        "magzpsci": fp.magzpsci, "diffmaglim": fp.diffmaglim, "extra": fp.extra,
    } for fp in forced.values())
    for band in np.unique(fid):
        in_band = fid == band
        rows["magstat"].append({
            "oid": oid, "fid": int(band), "ndet": int(in_band.sum()),
            "magmean": float(mag[in_band].mean()), "magmin": float(mag[in_band].min()),
            "magmax": float(mag[in_band].max()), "firstmjd": float(mjd[in_band].min()),
            "lastmjd": float(mjd[in_band].max()),
        })
        rows["feature"].append({"oid": oid, "name": "Amplitude", "fid": int(band),
                                "version": FEATURE_VERSION,
                                "value": float(np.ptp(mag[in_band]) / 2)})
    rows["feature"].append({"oid": oid, "name": "n_det", "fid": 0, "version": FEATURE_VERSION,
                            "value": float(len(dets))})
    rng = np.random.default_rng(int(hashlib.sha256(oid.encode()).hexdigest()[:8], 16))
    for (name, version), classes in TAXONOMY.items():
        probabilities = rng.dirichlet(np.full(len(classes), 0.5))
        order = np.argsort(-probabilities)
        rows["probability"].extend({
            "oid": oid, "classifier_name": name, "classifier_version": version,
            "class_name": classes[i], "probability": float(probabilities[i]), "ranking": rank,
        } for rank, i in enumerate(order, start=1))
    first = min((a for a in alerts if a.cutouts.present()), key=lambda a: a.candidate.mjd,
                default=None)
    if first is not None:
        rows["cutout"].append({"oid": oid, "candid": first.candid,
                               "science": first.cutouts.science,
                               "template": first.cutouts.template,
                               "difference": first.cutouts.difference})
