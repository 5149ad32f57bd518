"""A loopback stand-in of the TNS bot API, with the real API's requests, answers and failures.

It checks what TNS checks (the api_key form field and the ``tns_marker`` User-Agent),
keeps what it was sent, and plays scripted failures: 429 with a reset header, a 504 after
the report was stored, a reply that is 404 until processed, a 400 rejection with feedback.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from .loopback import LoopbackServer, QuietJSONHandler

API_KEY = "standin-api-key"


@dataclass
class TNSState:
    reports: dict[str, dict] = field(default_factory=dict)  # report_id -> at_report document
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # internal name -> (prefix, objname)
    uploads: list[str] = field(default_factory=list)  # internal names in upload order
    user_agents: list[str] = field(default_factory=list)
    # scripted behaviour
    rate_limit_next_upload: bool = False
    gateway_timeout_after_upload: bool = False
    reject_internal_names: set[str] = field(default_factory=set)
    replies_before_processed: int = 1
    reply_polls: dict[str, int] = field(default_factory=dict)
    next_objname: int = 0


class TNSStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.state = TNSState()
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def _handler(self) -> type[QuietJSONHandler]:
        standin = self

        class Handler(QuietJSONHandler):
            def do_POST(self) -> None:
                form = {k: v[0] for k, v in parse_qs(self.body().decode()).items()}
                agent = self.headers.get("User-Agent", "")
                with standin.lock:
                    standin.state.user_agents.append(agent)
                    if not agent.startswith("tns_marker{"):
                        return self.send_json(403, {"id_code": 403, "id_message": "Forbidden: no tns_marker"})
                    if form.get("api_key") != API_KEY:
                        return self.send_json(401, {"id_code": 401, "id_message": "Unauthorized"})
                    route = {
                        "/api/set/bulk-report": standin._bulk_report,
                        "/api/get/bulk-report-reply": standin._reply,
                        "/api/get/search": standin._search,
                        "/api/get/object": standin._object,
                    }.get(self.path)
                    if route is None:
                        return self.send_json(404, {"id_code": 404, "id_message": "Not found"})
                    status, body, headers = route(form)
                self.send_json(status, body, {"x-rate-limit-limit": "90", **headers})

        return Handler

    # -- routes ------------------------------------------------------------------------
    def _bulk_report(self, form: dict) -> tuple[int, dict, dict]:
        state = self.state
        if state.rate_limit_next_upload:
            state.rate_limit_next_upload = False
            return 429, {"id_code": 429, "id_message": "Too Many Requests"}, {
                "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1"}
        document = json.loads(form["data"])
        report_id = str(1000 + len(state.reports))
        state.reports[report_id] = document
        for report in document["at_report"].values():
            state.uploads.append(report["internal_name"])
        if state.gateway_timeout_after_upload:
            state.gateway_timeout_after_upload = False
            self._process(report_id)  # TNS got it and processes it, but the gateway timed out
            return 504, {"id_code": 504, "id_message": "Gateway Time-out"}, {}
        return 200, {"id_code": 200, "id_message": "OK", "data": {"report_id": report_id}}, {
            "x-rate-limit-remaining": "89", "x-rate-limit-reset": "60"}

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
        feedback, rejected = [], False
        for report in self.state.reports[report_id]["at_report"].values():
            name = report["internal_name"]
            if name in self.state.reject_internal_names:
                rejected = True
                feedback.append({"ra": {"value": report["ra"]["value"], "message": "Invalid ra"}})
                continue
            if name in self.state.names:
                prefix, objname = self.state.names[name]
                feedback.append({"101": {"message": "The object already exists", "objname": objname,
                                         "prefix": prefix}})
                continue
            objname = f"2026{chr(97 + self.state.next_objname)}aa"
            self.state.next_objname += 1
            self.state.names[name] = ("AT", objname)
            feedback.append({"100": {"message": "The AT has been reported", "objname": objname, "prefix": "AT"}})
        return feedback, rejected

    def _search(self, form: dict) -> tuple[int, dict, dict]:
        query = json.loads(form.get("data", "{}"))
        hits = []
        name = query.get("internal_name")
        if name and name in self.state.names:
            prefix, objname = self.state.names[name]
            hits.append({"objname": objname, "prefix": prefix, "objid": 1})
        return 200, {"id_code": 200, "id_message": "OK", "data": {"received_data": query, "reply": hits}}, {}

    def _object(self, form: dict) -> tuple[int, dict, dict]:
        objname = json.loads(form.get("data", "{}")).get("objname")
        for prefix, name in self.state.names.values():
            if name == objname:
                return 200, {"id_code": 200, "id_message": "OK",
                             "data": {"reply": {"objname": name, "name_prefix": prefix}}}, {}
        return 200, {"id_code": 200, "id_message": "OK", "data": {"reply": {}}}, {}
