"""Test data for the TOM pages, made from a real ZTF alert by the project's own parser.

The alert (ZTF26aaakzsi, schema 4.02, a TNS-classified SN II with 34 detections in g, r and i)
is read in place from shared/data; its photometry becomes PhotometryReducedDatum rows and its cutouts PNG data
products, the way the broker plugin stores them.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from django.core.files.base import ContentFile
from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_targets.models import Target

from alerce_contract.mjd import mjd_to_datetime, now_mjd
from alerce_contract.bands import BAND_OF_FID
from classifier_service.alert import Alert
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from tom_alerce.classifications import record_classifications
from tom_alerce.stamps import KINDS, as_png

ALERT_PATH = Path("ztf_alerts/fink-client/fink_enriched_v4.02/part-3-305711.avro")
ALERT_OID = "ZTF26aaakzsi"

CLASSIFICATIONS = {
    "stamp_classifier": {"version": "1.0.0", "probabilities": {
        "SN": 0.81, "AGN": 0.07, "VS": 0.05, "asteroid": 0.04, "bogus": 0.03}},
    "lc_classifier_top": {"version": "2.0.0", "probabilities": {
        "Transient": 0.7, "Stochastic": 0.2, "Periodic": 0.1}},
    "lc_classifier_transient": {"version": "2.0.0", "probabilities": {
        "SNIa": 0.6, "SNII": 0.25, "SNIbc": 0.1, "SLSN": 0.05}},
    "lc_classifier_stochastic": {"version": "2.0.0", "probabilities": {
        "AGN": 0.5, "QSO": 0.3, "Blazar": 0.1, "YSO": 0.05, "CV/Nova": 0.05}},
    "lc_classifier_periodic": {"version": "2.0.0", "probabilities": {
        "LPV": 0.3, "E": 0.3, "RRL": 0.2, "DSCT": 0.1, "CEP": 0.05, "Periodic-Other": 0.05}},
    "lc_classifier": {"version": "2.0.0", "probabilities": {
        "SNIa": 0.42, "SNII": 0.18, "AGN": 0.1, "SNIbc": 0.07, "QSO": 0.06, "SLSN": 0.04, "LPV": 0.03,
        "E": 0.03, "RRL": 0.02, "Blazar": 0.02, "YSO": 0.01, "CV/Nova": 0.01, "DSCT": 0.005,
        "CEP": 0.0025, "Periodic-Other": 0.0025}},
}


def real_alert(shared_data: Path) -> Alert:
    records = iter_records((shared_data / ALERT_PATH).read_bytes())
    return parse_record(next(r for r in records if r["objectId"] == ALERT_OID))


def forced_magnitudes(alert: Alert) -> list[tuple[float, int, float, float]]:
    """(mjd, fid, mag, e_mag) of the forced-photometry epochs with a positive flux."""
    rows = []
    for fp in alert.forced_photometry:
        if fp.forcediffimflux and fp.forcediffimflux > 0 and fp.magzpsci:
            mag = fp.magzpsci - 2.5 * np.log10(fp.forcediffimflux)
            rows.append((fp.mjd, fp.fid, float(mag), float(1.0857 * fp.forcediffimfluxunc / fp.forcediffimflux)))
    return rows


def seed_target(alert: Alert, classifications: dict | None = None, last_detected_days_ago: float = 0.1) -> Target:
    """A target with the alert's photometry (shifted in time so that the alert arrived
    ``last_detected_days_ago``), cutouts and the given classifications."""
    shift = now_mjd() - last_detected_days_ago - alert.candidate.mjd

    def when(mjd: float):
        return mjd_to_datetime(mjd + shift)

    target = Target.objects.create(name=alert.oid, type=Target.SIDEREAL, ra=alert.candidate.ra,
                                   dec=alert.candidate.dec, epoch=2000.0)
    points = [PhotometryReducedDatum(target=target, timestamp=when(d.mjd), brightness=d.magpsf,
                                     brightness_error=d.sigmapsf, bandpass=BAND_OF_FID[d.fid], unit="mag",
                                     source_name="ALeRCEBroker") for d in alert.detections]
    points += [PhotometryReducedDatum(target=target, timestamp=when(n.mjd), limit=n.diffmaglim,
                                      bandpass=BAND_OF_FID[n.fid], unit="mag", source_name="ALeRCEBroker")
               for n in alert.non_detections]
    points += [PhotometryReducedDatum(target=target, timestamp=when(mjd), brightness=mag,
                                      brightness_error=err, bandpass=BAND_OF_FID[fid], unit="mag",
                                      reduction_version="forced_photometry", source_name="ALeRCEBroker")
               for mjd, fid, mag, err in forced_magnitudes(alert)]
    PhotometryReducedDatum.objects.bulk_create(points)
    for kind in KINDS:
        product = DataProduct(target=target, product_id=f"{alert.oid}_{alert.candid}_{kind}",
                              data_product_type="image_file")
        product.data.save(f"{alert.oid}_{alert.candid}_{kind}.png",
                          ContentFile(as_png(getattr(alert.cutouts, kind))), save=False)
        product.save()
    record_classifications(target, classifications or CLASSIFICATIONS, source="test seed")
    return target


class FakeAlerceApi(ThreadingHTTPServer):
    """A loopback stand-in for the ALeRCE ZTF API and its get_stamp route, serving one alert."""

    def __init__(self, alert: Alert, probability: float, firstmjd: float):
        self.alert, self.probability, self.firstmjd = alert, probability, firstmjd
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, query: dict) -> tuple[int, str, bytes]:
        alert = self.alert
        if path == "/ztf/v1/objects":
            item = {"oid": alert.oid, "meanra": alert.candidate.ra, "meandec": alert.candidate.dec,
                    "ndet": len(alert.detections), "firstmjd": self.firstmjd, "lastmjd": self.firstmjd + 1,
                    "classifier": "stamp_classifier", "class": "SN", "probability": self.probability}
            minimum = float(query.get("probability", ["0"])[0])
            items = [item] if self.probability >= minimum else []
            return 200, "application/json", json.dumps({"total": len(items), "items": items}).encode()
        if path == f"/ztf/v1/objects/{alert.oid}/detections":
            rows = [{"candid": str(d.candid), "mjd": d.mjd + (self.firstmjd - alert.detections[0].mjd),
                     "fid": d.fid, "magpsf": d.magpsf, "sigmapsf": d.sigmapsf, "isdiffpos": d.isdiffpos}
                    for d in alert.detections]
            return 200, "application/json", json.dumps(rows).encode()
        if path == f"/ztf/v1/objects/{alert.oid}/features":
            rows = [{"name": k, "value": alert.metadata[k], "fid": 0, "version": "test"}
                    for k in ("sgscore1", "distpsnr1")]
            return 200, "application/json", json.dumps(rows).encode()
        if path == f"/ztf/v1/objects/{alert.oid}/probabilities":
            rows = [{"classifier_name": name, "classifier_version": entry["version"], "class_name": c,
                     "probability": p, "ranking": 0}
                    for name, entry in CLASSIFICATIONS.items() for c, p in entry["probabilities"].items()]
            return 200, "application/json", json.dumps(rows).encode()
        if path == "/get_stamp" and "candid" not in query:
            return 400, "application/json", b'{"detail": "candid: Field required"}'
        if path == "/get_stamp" and query.get("oid") == [alert.oid]:
            return 200, "application/octet-stream", getattr(alert.cutouts, query["type"][0])
        return 404, "application/json", b'{"detail": "not found"}'


class _Handler(BaseHTTPRequestHandler):
    server: FakeAlerceApi

    def do_GET(self) -> None:
        url = urlparse(self.path)
        self.server.requests.append(self.path)
        status, content_type, body = self.server.answer(url.path, parse_qs(url.query))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def fake_alerce_api(alert: Alert, probability: float = 0.9, firstmjd: float | None = None):
    server = FakeAlerceApi(alert, probability, firstmjd if firstmjd is not None else now_mjd() - 0.1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
