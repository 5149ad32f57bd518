"""A loopback stand-in of the PUBLIC ALeRCE API (api.alerce.online + avro.alerce.online).

It answers the routes the plugin uses with ALeRCE's real response shapes (the flask-restx
models of alercebroker/web-services: paginated object list, detection, non-detection,
probability, classifier; v2 forced photometry with ``extra_fields``), filled from real ZTF
alerts read in place from shared/data. Probabilities are invented but deterministic. A test
can make any route fail (``faults``: path prefix -> "500" | "slow" | "badjson") and read
which routes were asked (``requests``).
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from alerce_contract.stamps import decode_stamp, zscale_png
from classifier_service.alert import Alert
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

ALERT_FILES = (
    "ztf_alerts/alerce-pipeline/apf_avro_test",
    "ztf_alerts/alerce-pipeline/lc_classifier_example",
    "ztf_alerts/fink-client/single",
)
# A "slow" route answers after this long; the client's timeout is a quarter of it: far above what
# a loaded two-core machine takes to answer the others (0.5 s was not, once, in a clean-clone run).
SLOW_S = 10.0
CLASSIFIERS = {
    "lc_classifier": ("hierarchical_random_forest_1.1.0",
                      ["SNIa", "SNIbc", "SNII", "SLSN", "QSO", "AGN", "Blazar", "YSO", "CV/Nova", "LPV",
                       "E", "DSCT", "RRL", "CEP", "Periodic-Other"]),
    "stamp_classifier": ("stamp_classifier_1.0.4", ["SN", "AGN", "VS", "asteroid", "bogus"]),
}


def load_alerts(shared_data: Path) -> list[Alert]:
    """One alert per object (the latest), from real ZTF alerts with cutouts."""
    latest: dict[str, Alert] = {}
    for folder in ALERT_FILES:
        for path in sorted((shared_data / folder).glob("*.avro")):
            for record in iter_records(path.read_bytes()):
                alert = parse_record(record)
                if alert.cutouts.present() and (alert.oid not in latest or alert.candid > latest[alert.oid].candid):
                    latest[alert.oid] = alert
    return sorted(latest.values(), key=lambda a: a.oid)


def invented_probabilities(oid: str, classes: list[str]) -> dict[str, float]:
    """Deterministic, peaked probabilities per object (a hash seeds them)."""
    rng = np.random.default_rng(int(hashlib.sha256(oid.encode()).hexdigest()[:8], 16))
    weights = rng.dirichlet(np.full(len(classes), 0.3))
    return {name: round(float(w), 6) for name, w in zip(classes, weights)}


@dataclass
class AlerceObject:
    item: dict
    detections: list[dict]
    non_detections: list[dict]
    forced: list[dict]
    probabilities: list[dict]
    stamps: dict[tuple[str, str], bytes]  # (candid, type) -> png


def _png(stamp: bytes) -> bytes:
    """A stamp as ALeRCE's avro.alerce.online serves it: a zscale PNG."""
    return zscale_png(decode_stamp(stamp))


def alerce_object(alert: Alert) -> AlerceObject:
    dets = alert.detections
    candid = str(alert.candid)
    detections = [{
        "mjd": d.mjd, "candid": str(d.candid), "fid": d.fid, "pid": d.pid, "diffmaglim": d.diffmaglim,
        "isdiffpos": d.isdiffpos, "nid": None, "distnr": d.distnr, "magpsf": d.magpsf, "magpsf_corr": None,
        "magpsf_corr_ext": None, "magap": None, "magap_corr": None, "sigmapsf": d.sigmapsf,
        "sigmapsf_corr": None, "sigmapsf_corr_ext": None, "sigmagap": None, "sigmagap_corr": None,
        "ra": d.ra, "dec": d.dec, "rb": d.rb, "rbversion": "t17_f5_c3", "drb": d.drb, "magapbig": None,
        "sigmagapbig": None, "rfid": None, "has_stamp": str(d.candid) == candid, "corrected": False,
        "dubious": False, "candid_alert": None, "step_id_corr": "23.x", "phase": 0.0,
        "parent_candid": None if str(d.candid) == candid else alert.candid,
    } for d in dets]
    non_detections = [{"mjd": n.mjd, "fid": n.fid, "diffmaglim": n.diffmaglim} for n in alert.non_detections]
    forced = []
    for fp in alert.forced_photometry:
        flux, zp = fp.forcediffimflux, fp.magzpsci
        ok = flux is not None and zp is not None and flux > 0 and fp.forcediffimfluxunc
        forced.append({
            "oid": alert.oid, "aid": None, "sid": "ZTF", "pid": fp.pid, "mjd": fp.mjd, "fid": fp.fid,
            "mag": zp - 2.5 * math.log10(flux) if ok else 100.0,
            "e_mag": 1.0857 * fp.forcediffimfluxunc / flux if ok else 100.0,
            "isdiffpos": 1, "corrected": False, "dubious": False, "parent_candid": alert.candid,
            "has_stamp": False, "extra_fields": {"forcediffimflux": flux, "magzpsci": zp},
        })
    probabilities = []
    for name, (version, classes) in CLASSIFIERS.items():
        ranked = sorted(invented_probabilities(f"{name}:{alert.oid}", classes).items(), key=lambda kv: -kv[1])
        probabilities += [{"classifier_name": name, "classifier_version": version, "class_name": c,
                           "probability": p, "ranking": rank} for rank, (c, p) in enumerate(ranked, 1)]
    mjds = [d.mjd for d in dets]
    item = {
        "oid": alert.oid, "ndethist": str(alert.metadata.get("ndethist", len(dets))), "ncovhist": 100,
        "mjdstarthist": min(mjds), "mjdendhist": max(mjds), "corrected": False, "stellar": False,
        "ndet": len(dets), "g_r_max": None, "g_r_max_corr": None, "g_r_mean": None, "g_r_mean_corr": None,
        "firstmjd": min(mjds), "lastmjd": max(mjds), "deltajd": max(mjds) - min(mjds),
        "meanra": float(np.mean([d.ra for d in dets])), "meandec": float(np.mean([d.dec for d in dets])),
        "sigmara": 0.0, "sigmadec": 0.0, "step_id_corr": "23.x",
    }
    stamps = {(candid, "science"): _png(alert.cutouts.science), (candid, "template"): _png(alert.cutouts.template),
              (candid, "difference"): _png(alert.cutouts.difference)}
    return AlerceObject(item, detections, non_detections, forced, probabilities, stamps)


@dataclass
class PublicAlerceStandIn:
    objects: dict[str, AlerceObject]
    faults: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "PublicAlerceStandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                standin.answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads, self.server.block_on_close = True, False
        self.server.handle_error = lambda request, client_address: None  # a client that gave up
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- routing ----------------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        self.requests.append(path)
        fault = next((kind for prefix, kind in self.faults.items() if path.startswith(prefix)), None)
        if fault == "500":
            return self._send(handler, 500, b'{"message": "Internal Server Error"}')
        if fault == "slow":
            time.sleep(SLOW_S)
        if fault == "badjson":
            return self._send(handler, 200, b"<html>maintenance</html>")
        status, body = self.route(path, query)
        if isinstance(body, bytes):
            return self._send(handler, status, body, "image/png")
        self._send(handler, status, json.dumps(body).encode())

    def route(self, path: str, query: dict[str, list[str]]):
        parts = path.strip("/").split("/")
        if path == "/ztf/v1/classifiers":
            return 200, [{"classifier_name": n, "classifier_version": v, "classes": c}
                         for n, (v, c) in CLASSIFIERS.items()]
        if path == "/ztf/v1/objects":
            return 200, self.object_list(query)
        if path == "/get_stamp":
            png = self.objects.get(query["oid"][0])
            png = png and png.stamps.get((query["candid"][0], query["type"][0]))
            return (200, png) if png else (404, {"message": "stamp not found"})
        if parts[:3] == ["ztf", "v1", "objects"] or parts[:3] == ["v2", "lightcurve", "forced-photometry"]:
            obj = self.objects.get(parts[3])
            if obj is None:
                return 404, {"message": "Object not found"}
            if parts[0] == "v2":
                return 200, obj.forced
            tail = parts[4] if len(parts) > 4 else ""
            return 200, {"": obj.item, "probabilities": obj.probabilities,
                         "lightcurve": {"detections": obj.detections, "non_detections": obj.non_detections},
                         "detections": obj.detections, "non_detections": obj.non_detections}[tail]
        return 404, {"message": "not found"}

    def object_list(self, query: dict[str, list[str]]) -> dict:
        classifier = query.get("classifier", ["lc_classifier"])[0]
        class_name = query.get("class", [None])[0]
        probability = float(query.get("probability", [0])[0])
        ranking = int(query.get("ranking", [1])[0])
        ndet = [int(v) for v in query.get("ndet", [])]
        oids = set(query.get("oid", []))
        rows = []
        for oid, obj in sorted(self.objects.items()):
            prob = next((p for p in obj.probabilities if p["classifier_name"] == classifier
                         and p["ranking"] == ranking), None)
            if prob is None or (class_name and prob["class_name"] != class_name) or prob["probability"] < probability:
                continue
            if (oids and oid not in oids) or (ndet and not ndet[0] <= obj.item["ndet"] <= (ndet[1:] or [10**9])[0]):
                continue
            rows.append({**obj.item, "class": prob["class_name"], "classifier": classifier,
                         "probability": prob["probability"]})
        page, size = int(query.get("page", [1])[0]), int(query.get("page_size", [10])[0])
        pages = max(1, math.ceil(len(rows) / size))
        return {"total": len(rows), "page": page, "next": page + 1 if page < pages else None,
                "has_next": page < pages, "prev": page - 1 if page > 1 else None, "has_prev": page > 1,
                "items": rows[(page - 1) * size: page * size]}

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
              content_type: str = "application/json") -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
