"""A loopback stand-in of the LCO (and SOAR) observation portal, as tomtoolkit 3.1's OCS facilities use it.

It answers the calls tom_observations.facilities.ocs/lco/soar make, in the real portal's shapes:
GET /api/instruments/ (instrument types keyed by code, with class, name, type, optical
elements, modes, configuration types and their default), GET /api/profile/ (the user's
proposals), POST /api/requestgroups/validate/ (request_durations, errors) and POST
/api/requestgroups/ (201 with the request group and its requests' ids). It checks the
``Authorization: Token`` header as the portal does (401 "Invalid token."), checks the
request group like the portal's serializer would for what tests need (proposal, windows,
instrument, filter), and plays scripted failures: a 400 with the portal's error document,
and a 504 from the gateway after the portal stored the request group.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from .loopback import LoopbackServer, QuietJSONHandler

API_TOKEN = "standin-lco-token"
PROPOSAL = "LCO2026A-007"


def _filters(*codes_names: tuple[str, str]) -> list[dict]:
    return [{"name": name, "code": code, "schedulable": True, "default": False} for code, name in codes_names]


def _modes(kind: str, *codes_names: tuple[str, str]) -> dict:
    return {"type": kind, "modes": [{"name": name, "overhead": 0.0, "code": code, "schedulable": True,
                                     "validation_schema": {}} for code, name in codes_names],
            "default": codes_names[0][0]}


IMAGING_CONFIGURATION_TYPES = {
    "EXPOSE": {"name": "Exposure", "code": "EXPOSE", "schedulable": True, "force_acquisition_off": False,
               "requires_optical_elements": True, "validation_schema": {}},
    "REPEAT_EXPOSE": {"name": "Exposure Sequence", "code": "REPEAT_EXPOSE", "schedulable": True,
                      "force_acquisition_off": False, "requires_optical_elements": True, "validation_schema": {}},
}

INSTRUMENTS = {
    "1M0-SCICAM-SINISTRO": {
        "type": "IMAGE", "class": "1m0", "name": "1.0 meter Sinistro",
        "optical_elements": {"filters": _filters(("gp", "SDSS g'"), ("rp", "SDSS r'"), ("ip", "SDSS i'"),
                                                 ("V", "Bessell-V"))},
        "modes": {"readout": _modes("readout", ("full_frame", "Full Frame")),
                  "guiding": _modes("guiding", ("ON", "On"), ("OFF", "Off")),
                  "acquisition": _modes("acquisition", ("OFF", "Off"))},
        "default_acceptability_threshold": 90.0,
        "configuration_types": IMAGING_CONFIGURATION_TYPES,
        "default_configuration_type": "EXPOSE",
        "camera_type": {"science_field_of_view": 26.5, "autoguider_field_of_view": 26.5, "pixel_scale": 0.389,
                        "pixels_x": 4096, "pixels_y": 4096, "orientation": 0.0},
    },
    "2M0-FLOYDS-SCICAM": {
        "type": "SPECTRA", "class": "2m0", "name": "2.0 meter FLOYDS",
        "optical_elements": {"slits": _filters(("slit_1.6as", "1.6 arcsec slit"), ("slit_2.0as", "2.0 arcsec slit"))},
        "modes": {"readout": _modes("readout", ("default", "Default")),
                  "guiding": _modes("guiding", ("ON", "On")),
                  "acquisition": _modes("acquisition", ("WCS", "WCS"), ("BRIGHTEST", "Brightest"))},
        "default_acceptability_threshold": 90.0,
        "configuration_types": {
            "SPECTRUM": {"name": "Spectrum", "code": "SPECTRUM", "schedulable": True, "force_acquisition_off": False,
                         "requires_optical_elements": True, "validation_schema": {}},
            "LAMP_FLAT": {"name": "Lamp Flat", "code": "LAMP_FLAT", "schedulable": True,
                          "force_acquisition_off": True, "requires_optical_elements": True, "validation_schema": {}},
        },
        "default_configuration_type": "SPECTRUM",
        "camera_type": {"science_field_of_view": 6.0, "autoguider_field_of_view": 6.0, "pixel_scale": 0.337,
                        "pixels_x": 2048, "pixels_y": 512, "orientation": 0.0},
    },
    "SOAR_GHTS_REDCAM_IMAGER": {
        "type": "IMAGE", "class": "4m0", "name": "Goodman Red Camera Imager",
        "optical_elements": {"filters": _filters(("g-SDSS", "g SDSS"), ("r-SDSS", "r SDSS"))},
        "modes": {"readout": _modes("readout", ("GHTS_R_2x2", "2x2 binning")),
                  "guiding": _modes("guiding", ("ON", "On")),
                  "acquisition": _modes("acquisition", ("OFF", "Off"))},
        "default_acceptability_threshold": 90.0,
        "configuration_types": IMAGING_CONFIGURATION_TYPES,
        "default_configuration_type": "EXPOSE",
        "camera_type": {"science_field_of_view": 7.2, "autoguider_field_of_view": 7.2, "pixel_scale": 0.15,
                        "pixels_x": 3096, "pixels_y": 4096, "orientation": 0.0},
    },
}

PROFILE = {
    "username": "alerce_bot", "first_name": "", "last_name": "", "email": "bot@example.org",
    "proposals": [
        {"id": PROPOSAL, "title": "Young supernovae from the ALeRCE stream", "current": True,
         "permissions": ["create_requestgroup"]},
        {"id": "LCO2024B-001", "title": "An old proposal", "current": False, "permissions": []},
    ],
    "profile": {"institution": "", "title": "", "simple_interface": False, "view_authored_requests_only": False},
}


@dataclass
class PortalState:
    submitted: list[dict] = field(default_factory=list)  # request groups as received
    validated: list[dict] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    next_requestgroup_id: int = 1_900_000
    next_request_id: int = 3_500_000
    # scripted behaviour: the portal's 400 for the next submission; a 504 after storing it
    reject_next_submission: bool = False
    gateway_timeout_after_next_submission: bool = False


class LCOPortalStandIn(LoopbackServer):
    def __init__(self) -> None:
        self.state = PortalState()
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def _handler(self) -> type[QuietJSONHandler]:
        standin = self

        class Handler(QuietJSONHandler):
            def do_GET(self) -> None:
                self._route("GET", None)

            def do_POST(self) -> None:
                self._route("POST", json.loads(self.body() or b"{}"))

            def _route(self, method: str, document: dict | None) -> None:
                authorization = self.headers.get("Authorization", "")
                with standin.lock:
                    standin.state.authorizations.append(authorization)
                    if authorization and authorization != f"Token {API_TOKEN}":
                        return self.send_json(401, {"detail": "Invalid token."})
                    if method == "GET" and self.path == "/api/instruments/":
                        return self.send_json(200, INSTRUMENTS)  # public on the real portal
                    if not authorization:
                        return self.send_json(401, {"detail": "Authentication credentials were not provided."})
                    route = {
                        ("GET", "/api/profile/"): lambda _: (200, PROFILE),
                        ("POST", "/api/requestgroups/validate/"): standin._validate,
                        ("POST", "/api/requestgroups/"): standin._submit,
                    }.get((method, self.path))
                    if route is None:
                        return self.send_json(404, {"detail": "Not found."})
                    status, body = route(document)
                    if status == 201 and standin.state.gateway_timeout_after_next_submission:
                        standin.state.gateway_timeout_after_next_submission = False
                        status, body = 504, {"detail": "Gateway Time-out"}
                self.send_json(status, body)

        return Handler

    # -- routes ------------------------------------------------------------------------
    def _validate(self, requestgroup: dict) -> tuple[int, dict]:
        self.state.validated.append(requestgroup)
        errors = _errors(requestgroup)
        if errors:
            return 200, {"request_durations": {}, "errors": errors}
        durations = [{"duration": _duration(request)} for request in requestgroup["requests"]]
        return 200, {"request_durations": {"requests": durations,
                                           "duration": sum(d["duration"] for d in durations)}, "errors": {}}

    def _submit(self, requestgroup: dict) -> tuple[int, dict]:
        errors = _errors(requestgroup)
        if self.state.reject_next_submission:
            self.state.reject_next_submission = False
            errors = {"requests": [{"non_field_errors": [
                "According to the constraints of the request, the target is never visible within the time "
                "window. Check that the target is in the nighttime sky. Consider modifying the time window or "
                "loosening the airmass or lunar separation constraints. If the target is non sidereal, double "
                "check that the provided elements are correct."]}]}
        if errors:
            return 400, errors
        self.state.submitted.append(requestgroup)
        group_id = self.state.next_requestgroup_id
        self.state.next_requestgroup_id += 1
        requests = []
        for request in requestgroup["requests"]:
            requests.append({**request, "id": self.state.next_request_id, "state": "PENDING",
                             "duration": _duration(request), "acceptability_threshold": 90.0,
                             "modified": "2026-03-15T23:00:00.000000Z"})
            self.state.next_request_id += 1
        return 201, {**requestgroup, "id": group_id, "submitter": PROFILE["username"], "state": "PENDING",
                     "created": "2026-03-15T23:00:00.000000Z", "modified": "2026-03-15T23:00:00.000000Z",
                     "requests": requests}


def _errors(requestgroup: dict) -> dict:
    """What the portal's serializer would refuse, for the fields the tests exercise."""
    errors: dict = {}
    if requestgroup.get("proposal") not in {p["id"] for p in PROFILE["proposals"] if p["current"]}:
        errors["proposal"] = [f'Invalid pk "{requestgroup.get("proposal")}" - object does not exist.']
    request_errors = []
    for request in requestgroup.get("requests", []):
        problems: dict = {}
        if not request.get("windows"):
            problems["windows"] = ["You must specify at least 1 window"]
        for configuration in request.get("configurations", []):
            instrument = INSTRUMENTS.get(configuration.get("instrument_type"))
            if instrument is None:
                problems.setdefault("configurations", []).append(
                    {"instrument_type": ["Invalid instrument type"]})
                continue
            known = {e["code"] for group in instrument["optical_elements"].values() for e in group}
            for ic in configuration.get("instrument_configs", []):
                for element in ic.get("optical_elements", {}).values():
                    if element not in known:
                        problems.setdefault("configurations", []).append(
                            {"instrument_configs": [{"non_field_errors": [f"Invalid filter {element}"]}]})
        if not request.get("configurations"):
            problems["configurations"] = ["You must specify at least 1 configuration"]
        request_errors.append(problems)
    if any(request_errors):
        errors["requests"] = request_errors
    return errors


def _duration(request: dict) -> int:
    exposure = sum(ic.get("exposure_time", 0) * ic.get("exposure_count", 1)
                   for configuration in request.get("configurations", [])
                   for ic in configuration.get("instrument_configs", []))
    return int(exposure + 120)  # plus slew and readout overheads
