"""A loopback stand-in of the TNS bot API, with the real API's requests, answers and failures.

It checks what TNS checks (the api_key form field and the ``tns_marker`` User-Agent),
keeps what it was sent, processes bulk reports (at once, or later when a test says so)
and plays the failures a real night brings, one per upload from ``upload_failures``:

- ``non_json_200``: stores the report, answers 200 with an HTML page;
- ``no_id_200``: stores it, answers 200 JSON without a report id;
- ``reset_mid_body``: stores it, starts a chunked reply and resets the connection;
- ``trickle``: stores it, answers a correct reply one byte at a time, slower than any deadline;
- ``long_429``: answers 429 with a two-minute reset, stores nothing;
- ``504_after_store``: stores it, answers 504 Gateway Time-out;
- ``lost``: resets the connection before storing anything (the upload never arrived);
- ``bad_request_400``: refuses that report with 400 Bad Request, stores nothing (not a
  failure of TNS: it answered, about that report).

While ``outage`` is set, TNS is down and every request, whatever it asks, fails one way (OUTAGES):

- ``503``: 503 Service Unavailable;
- ``429``: 429 Too Many Requests, resetting in ``rate_limit_reset_s``;
- ``reset``: the connection is reset before any answer;
- ``hang``: no answer at all, for longer than any client waits.

As TNS does, it refuses a report whose ra or dec is outside the sky (feedback on the field,
no object) and one whose internal name a test lists in ``reject_internal_names``.
"""
from __future__ import annotations

import json
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from .loopback import LoopbackServer, QuietJSONHandler

API_KEY = "standin-api-key"
FAILURES = ("non_json_200", "no_id_200", "reset_mid_body", "trickle", "long_429", "504_after_store", "lost")
OUTAGES = ("503", "429", "reset", "hang")


@dataclass
class TNSState:
    reports: dict[str, dict] = field(default_factory=dict)  # report_id -> at_report document
    objects: dict[str, dict] = field(default_factory=dict)  # objname -> prefix, ra, dec, internal names
    processed: dict[str, tuple[list, bool]] = field(default_factory=dict)  # report_id -> (feedback, rejected)
    uploads: list[str] = field(default_factory=list)  # internal names stored, in upload order
    user_agents: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)  # every request body, to check what was sent
    # scripted behaviour
    upload_failures: list[str] = field(default_factory=list)  # popped one per upload
    outage: str | None = None  # one of OUTAGES: TNS is down, every request fails so
    rate_limit_reset_s: int = 120
    process_at_once: bool = True  # False: stored reports wait for process_all() or a reply poll
    reject_internal_names: set[str] = field(default_factory=set)
    replies_before_processed: int = 1
    reply_polls: dict[str, int] = field(default_factory=dict)
    trickle_interval_s: float = 0.05
    trickle_bytes_written: int = 0
    next_objname: int = 0

    @property
    def names(self) -> dict[str, tuple[str, str]]:
        """internal name -> (prefix, objname) of every processed object."""
        return {name: (obj["prefix"], objname) for objname, obj in self.objects.items() for name in obj["names"]}


class TNSStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.state = TNSState()
        self.lock = threading.Lock()
        self.hung_up = threading.Event()  # set on exit: a hanging request ends with the stand-in
        super().__init__(self._handler())

    def __exit__(self, *exc) -> None:
        self.hung_up.set()
        super().__exit__(*exc)

    def known(self, internal_name: str, ra: float = 0.0, dec: float = 0.0, prefix: str = "AT",
              objname: str = "2026xyz") -> None:
        """An object TNS already has, reported by someone else."""
        self.state.objects[objname] = {"prefix": prefix, "ra": ra, "dec": dec, "names": {internal_name}}

    def process_all(self) -> None:
        """TNS's processing queue catches up."""
        with self.lock:
            for report_id in list(self.state.reports):
                self._process(report_id)

    def _handler(self) -> type[QuietJSONHandler]:
        standin = self

        class Handler(QuietJSONHandler):
            def do_POST(self) -> None:
                raw = self.body().decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                agent = self.headers.get("User-Agent", "")
                with standin.lock:
                    standin.state.user_agents.append(agent)
                    standin.state.forms.append(raw)
                    if standin.state.outage:
                        return standin._down(self, standin.state.outage)
                    if not agent.startswith("tns_marker{"):
                        return self.send_json(403, {"id_code": 403, "id_message": "Forbidden: no tns_marker"})
                    if form.get("api_key") != API_KEY:
                        return self.send_json(401, {"id_code": 401, "id_message": "Unauthorized"})
                    if self.path == "/api/set/bulk-report":
                        failure = standin.state.upload_failures.pop(0) if standin.state.upload_failures else None
                        return standin._bulk_report(self, form, failure)
                    route = {
                        "/api/get/bulk-report-reply": standin._reply,
                        "/api/get/search": standin._search,
                        "/api/get/object": standin._object,
                    }.get(self.path)
                    if route is None:
                        return self.send_json(404, {"id_code": 404, "id_message": "Not found"})
                    status, body, headers = route(form)
                self.send_json(status, body, {"x-rate-limit-limit": "90", **headers})

            def finish(self) -> None:
                try:
                    super().finish()
                except OSError:  # the connection was reset on purpose
                    pass

            def reset(self) -> None:
                """Close with a TCP reset, as a dying proxy does."""
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True

            def rate_limited(self) -> None:
                """429, the budget spent until ``rate_limit_reset_s`` from now."""
                self.send_json(429, {"id_code": 429, "id_message": "Too Many Requests"}, {
                    "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(standin.state.rate_limit_reset_s)})

            def trickle(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.flush()
                for byte in data:
                    time.sleep(standin.state.trickle_interval_s)
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        return
                    standin.state.trickle_bytes_written += 1

        return Handler

    # -- routes ------------------------------------------------------------------------
    def _down(self, handler, outage: str) -> None:
        if outage == "503":
            return handler.send_json(503, {"id_code": 503, "id_message": "Service Unavailable"})
        if outage == "429":
            return handler.rate_limited()
        if outage == "reset":
            return handler.reset()
        if outage == "hang":
            self.lock.release()  # a hanging request must not hold up the others
            try:
                self.hung_up.wait()
            finally:
                self.lock.acquire()
            return handler.reset()
        raise ValueError(f"unknown outage {outage!r}")

    def _bulk_report(self, handler, form: dict, failure: str | None) -> None:
        if failure == "long_429":
            return handler.rate_limited()
        if failure == "lost":
            return handler.reset()
        if failure == "bad_request_400":
            return handler.send_json(400, {"id_code": 400, "id_message": "Bad request: at_report is not valid"})
        report_id = self._store(json.loads(form["data"]))
        ok = {"id_code": 200, "id_message": "OK", "data": {"report_id": report_id}}
        if failure is None:
            return handler.send_json(200, ok, {"x-rate-limit-remaining": "89", "x-rate-limit-reset": "60"})
        if failure == "non_json_200":
            page = b"<html><body>Service temporarily busy</body></html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            return handler.wfile.write(page)
        if failure == "no_id_200":
            return handler.send_json(200, {"id_code": 200, "id_message": "OK", "data": {}})
        if failure == "504_after_store":
            return handler.send_json(504, {"id_code": 504, "id_message": "Gateway Time-out"})
        if failure == "reset_mid_body":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            handler.wfile.write(b"10\r\n{\"id_code\": 200,\r\n")
            return handler.reset()
        if failure == "trickle":
            self.lock.release()  # the slow reply must not hold up other requests
            try:
                return handler.trickle(200, ok)
            finally:
                self.lock.acquire()
        raise ValueError(f"unknown failure {failure!r}")

    def _store(self, document: dict) -> str:
        report_id = str(1000 + len(self.state.reports))
        self.state.reports[report_id] = document
        for report in document["at_report"].values():
            self.state.uploads.append(report["internal_name"])
        if self.state.process_at_once:
            self._process(report_id)
        return report_id

    def _reply(self, form: dict) -> tuple[int, dict, dict]:
        report_id = form.get("report_id", "")
        if report_id not in self.state.reports:
            return 404, {"id_code": 404, "id_message": "Report not found"}, {}
        polls = self.state.reply_polls.get(report_id, 0)
        self.state.reply_polls[report_id] = polls + 1
        if polls < self.state.replies_before_processed:
            return 404, {"id_code": 404, "id_message": "Report not processed yet"}, {}
        feedback, rejected = self._process(report_id)
        status = 400 if rejected else 200
        return status, {"id_code": status, "id_message": "Bad request" if rejected else "OK",
                        "data": {"feedback": {"at_report": feedback}}}, {}

    def _process(self, report_id: str) -> tuple[list[dict], bool]:
        if report_id in self.state.processed:
            return self.state.processed[report_id]
        feedback, rejected = [], False
        for report in self.state.reports[report_id]["at_report"].values():
            name = report["internal_name"]
            ra, dec = float(report["ra"]["value"]), float(report["dec"]["value"])
            invalid = _invalid_coordinates(report, ra, dec)
            if name in self.state.reject_internal_names:
                invalid = invalid or {"ra": {"value": report["ra"]["value"], "message": "Invalid ra"}}
            if invalid:  # as TNS: feedback on each bad field, nothing stored for this report
                rejected = True
                feedback.append(invalid)
                continue
            existing = self._near(ra, dec, 2.0) or [o for o, obj in self.state.objects.items() if name in obj["names"]]
            if existing:
                objname = existing[0]
                self.state.objects[objname]["names"].add(name)
                feedback.append({"101": {"message": "The object already exists", "objname": objname,
                                         "prefix": self.state.objects[objname]["prefix"]}})
                continue
            objname = f"2026{chr(97 + self.state.next_objname // 26)}{chr(97 + self.state.next_objname % 26)}a"
            self.state.next_objname += 1
            self.state.objects[objname] = {"prefix": "AT", "ra": ra, "dec": dec, "names": {name}}
            feedback.append({"100": {"message": "The AT has been reported", "objname": objname, "prefix": "AT"}})
        self.state.processed[report_id] = (feedback, rejected)
        return feedback, rejected

    def _near(self, ra: float, dec: float, radius_arcsec: float) -> list[str]:
        def separation(obj: dict) -> float:
            d_ra = (ra - obj["ra"]) * math.cos(math.radians(dec))
            return math.hypot(d_ra, dec - obj["dec"]) * 3600
        return [objname for objname, obj in self.state.objects.items() if separation(obj) <= radius_arcsec]

    def _search(self, form: dict) -> tuple[int, dict, dict]:
        query = json.loads(form.get("data", "{}"))
        name = query.get("internal_name")
        if name:
            found = [o for o, obj in self.state.objects.items() if name in obj["names"]]
        elif "ra" in query and "dec" in query:
            found = self._near(float(query["ra"]), float(query["dec"]), float(query.get("radius", 3)))
        else:
            found = []
        hits = [{"objname": o, "prefix": self.state.objects[o]["prefix"], "objid": i + 1}
                for i, o in enumerate(found)]
        return 200, {"id_code": 200, "id_message": "OK", "data": {"received_data": query, "reply": hits}}, {}

    def _object(self, form: dict) -> tuple[int, dict, dict]:
        objname = json.loads(form.get("data", "{}")).get("objname")
        obj = self.state.objects.get(objname)
        if obj:
            return 200, {"id_code": 200, "id_message": "OK",
                         "data": {"reply": {"objname": objname, "name_prefix": obj["prefix"]}}}, {}
        return 200, {"id_code": 200, "id_message": "OK", "data": {"reply": {}}}, {}


def _invalid_coordinates(report: dict, ra: float, dec: float) -> dict:
    """TNS's feedback on a position outside the sky: one entry per bad field."""
    feedback = {}
    if not (math.isfinite(ra) and 0 <= ra < 360):
        feedback["ra"] = {"value": report["ra"]["value"], "message": "Invalid ra: must be within [0, 360)"}
    if not (math.isfinite(dec) and -90 <= dec <= 90):
        feedback["dec"] = {"value": report["dec"]["value"], "message": "Invalid dec: must be within [-90, 90]"}
    return feedback
