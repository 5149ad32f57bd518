"""The one HTTP client for ALeRCE's API, public (api.alerce.online) or self-hosted (``serve``).

Both serve the same ZTF routes and JSON shapes, and a ``get_stamp`` route for cutouts; Rubin
(LSST) objects are served by ALeRCE's multisurvey routes (``object_api``, ``lightcurve_api``,
``probability_api``, ``stamps_api``), at api-lsst.alerce.online for public ALeRCE and beside the
ZTF routes for a self-hosted one. Every app (the DataService, the query form, the ALeRCE tab,
the SN Hunter) builds this client from one settings block, ``DATA_SERVICES["ALeRCEBroker"]``,
read by :func:`config_from_settings`:

    DATA_SERVICES = {"ALeRCEBroker": {
        "api_url": "http://127.0.0.1:8001",   # without /ztf/v1; default https://api.alerce.online
        "stamp_url": "http://127.0.0.1:8001", # get_stamp; default: api_url (avro.alerce.online for public)
        "lsst_api_url": "",                   # the LSST routes; default: api_url (api-lsst.alerce.online for public)
        "timeout": 20, "connect_timeout": 3.05, "retries": 2,
    }}

The per-object methods take ``survey`` ("ZTF" or "LSST"); left out, the oid says which (see
:mod:`alerce_contract.names`). Whatever the survey, answers come in the ZTF routes' vocabulary
(oid as text, ndet, class, classifier, candid, fid, magpsf, sigmapsf, isdiffpos; forced epochs
with mag, e_mag), with the LSST route's own fields kept beside them, so every caller reads one
shape: a Rubin epoch's ``psfFlux`` (nJy) becomes ``magpsf`` as the broker's Rubin adapter makes
it (31.4 - 2.5 log10 |flux|, the sign in ``isdiffpos``), its band the contract's fid.

A self-hosted ``api_url`` never falls back to public ALeRCE for anything, stamps included.
Idempotent GETs are retried with backoff on refused connections and 5xx answers; every
failure becomes one typed error whose message names the URL and the reason, so a page can
say what went wrong and nothing half-read is turned into targets.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from alerce_contract.bands import ALERCE_LSST_BAND, FID_OF_BAND, flux_to_mag
from alerce_contract.names import survey_of_oid

PUBLIC_API_URL = "https://api.alerce.online"
PUBLIC_STAMP_URL = "https://avro.alerce.online"
PUBLIC_LSST_API_URL = "https://api-lsst.alerce.online"
SURVEYS = ("ZTF", "LSST")
SETTINGS_BLOCK = "ALeRCEBroker"
STAMP_TYPES = ("science", "template", "difference")
STAMP_FORMATS = ("png", "fits")
RETRY_STATUSES = (500, 502, 503, 504)
# Keys of the settings block read by the TOM apps rather than by the client.
TOM_KEYS = frozenset({"classifier_cache_ttl_s", "page_size", "result_classifiers"})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FITS_MAGICS = (b"SIMPLE", b"\x1f\x8b")  # plain or gzip-compressed FITS
# Query parameters whose names differ on the LSST routes (ZTF name -> LSST name), values of
# order_by included.
LSST_PARAMETERS = {"ndet": "n_det", "class": "class_name"}


class AlerceApiError(RuntimeError):
    """The broker could not give a usable answer; the message says which URL and why."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, where the server answered with one


class AlerceNotFound(AlerceApiError):
    """The broker answered 404: it does not know this object (or this route)."""


class AlerceUnavailable(AlerceApiError):
    """No answer in time, no connection, or a 5xx after every retry: worth trying again later."""


class AlerceBadResponse(AlerceApiError):
    """An answer that is not what the route promises (other 4xx, not JSON, wrong shape, not an image)."""


@dataclass(frozen=True)
class AlerceConfig:
    """Where the broker is and how patient to be with it."""

    api_url: str = PUBLIC_API_URL
    stamp_url: str = ""  # "" = api_url's stamps: avro.alerce.online for public ALeRCE, else api_url
    lsst_api_url: str = ""  # "" = api_url's LSST routes: api-lsst.alerce.online for public ALeRCE, else api_url
    timeout: float = 20.0  # seconds for one whole answer, connecting and reading included
    connect_timeout: float = 3.05
    retries: int = 2
    backoff: float = 0.3  # seconds; doubled after each failed retry

    def __post_init__(self) -> None:
        api_url = str(self.api_url or PUBLIC_API_URL).rstrip("/")
        object.__setattr__(self, "api_url", api_url)
        default_stamps = PUBLIC_STAMP_URL if api_url == PUBLIC_API_URL else api_url
        object.__setattr__(self, "stamp_url", str(self.stamp_url or default_stamps).rstrip("/"))
        default_lsst = PUBLIC_LSST_API_URL if api_url == PUBLIC_API_URL else api_url
        object.__setattr__(self, "lsst_api_url", str(self.lsst_api_url or default_lsst).rstrip("/"))
        for name, kind in (("timeout", float), ("connect_timeout", float), ("backoff", float), ("retries", int)):
            object.__setattr__(self, name, setting_number(name, getattr(self, name), kind))

    @property
    def is_public(self) -> bool:
        return self.api_url == PUBLIC_API_URL

    @classmethod
    def from_block(cls, block: Mapping[str, Any]) -> "AlerceConfig":
        """The client's part of ``DATA_SERVICES["ALeRCEBroker"]``; a misspelt key is an error, not
        a silent fall-back to public ALeRCE."""
        known = {f.name for f in fields(cls)}
        unknown = set(block) - known - TOM_KEYS
        if unknown:
            raise ValueError(f"DATA_SERVICES[{SETTINGS_BLOCK!r}]: unknown keys {sorted(unknown)}; "
                             f"known: {sorted(known | TOM_KEYS)}")
        return cls(**{key: value for key, value in block.items() if key in known})


def setting_number(key: str, value: Any, kind: type[int] | type[float]) -> Any:
    """``value`` of the settings block's ``key`` as ``kind``; a ValueError naming the key if it is not one."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"DATA_SERVICES[{SETTINGS_BLOCK!r}][{key!r}]: {value!r} is not "
                         f"{'a whole number' if kind is int else 'a number'}") from None


def settings_block(settings: Any) -> dict[str, Any]:
    """``DATA_SERVICES["ALeRCEBroker"]`` of a settings object (Django's, duck-typed), {} if unset."""
    return dict((getattr(settings, "DATA_SERVICES", None) or {}).get(SETTINGS_BLOCK) or {})


def config_from_settings(settings: Any) -> AlerceConfig:
    """The broker every TOM app talks to, from the one settings block."""
    return AlerceConfig.from_block(settings_block(settings))


def survey_of(oid: str | None, survey: str | None = None) -> str:
    """"ZTF" or "LSST": ``survey`` where given (any case), else the oid's; ZTF for any other name."""
    chosen = str(survey or (oid and survey_of_oid(oid)) or "ZTF").upper()
    if chosen not in SURVEYS:
        raise ValueError(f"survey must be one of {SURVEYS}, not {survey!r}")
    return chosen


def lsst_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """``/ztf/v1/objects`` parameters under the names ``list_objects`` gives them (ndet -> n_det, ...)."""
    renamed = {LSST_PARAMETERS.get(key, key): value for key, value in params.items()}
    if "order_by" in renamed:
        renamed["order_by"] = LSST_PARAMETERS.get(renamed["order_by"], renamed["order_by"])
    return renamed


def lsst_object(row: Mapping[str, Any]) -> dict[str, Any]:
    """An LSST object (or list item) with the ZTF routes' names beside its own."""
    return {**row, "oid": str(row["oid"]), "survey": "LSST", "ndet": row.get("n_det"),
            "class": row.get("class_name"), "classifier": row.get("classifier_name")}


def lsst_detection(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Rubin detection as a ZTF detection: candid (the measurement_id), fid, magpsf, sigmapsf,
    isdiffpos; magpsf None where the flux is missing or zero."""
    flux, error = row.get("psfFlux"), row.get("psfFluxErr")
    magpsf, sigmapsf = flux_to_mag(flux, error or 0.0) if _nonzero(flux) else (None, None)
    return {**_lsst_epoch(row), "candid": row.get("measurement_id"), "magpsf": magpsf,
            "sigmapsf": sigmapsf if _nonzero(error) else None,
            "isdiffpos": (1 if flux > 0 else -1) if magpsf is not None else None}


def lsst_forced(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Rubin forced-photometry epoch with ALeRCE's forced mag and e_mag, None where the
    difference flux is not positive (ALeRCE's ZTF route writes 100 there)."""
    flux, error = row.get("psfFlux"), row.get("psfFluxErr")
    mag, e_mag = flux_to_mag(flux, error or 0.0) if _nonzero(flux) and flux > 0 else (None, None)
    return {**_lsst_epoch(row), "mag": mag, "e_mag": e_mag if _nonzero(error) else None}


def _lsst_epoch(row: Mapping[str, Any]) -> dict[str, Any]:
    """oid as text and ``fid`` from the epoch's band (named by the row's own band_map)."""
    band_map = {str(number): band for number, band in (row.get("band_map") or ALERCE_LSST_BAND).items()}
    return {**row, "oid": str(row["oid"]), "fid": FID_OF_BAND.get(band_map.get(str(row.get("band")), ""))}


def _nonzero(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value != 0


class AlerceClient:
    """ALeRCE's ZTF v1 routes, the v2 forced-photometry route and ``get_stamp``; for Rubin
    objects the LSST (multisurvey) routes, answered in the same vocabulary."""

    def __init__(self, config: AlerceConfig | None = None, session: requests.Session | None = None) -> None:
        self.config = config or AlerceConfig()
        self.session = session or requests.Session()
        retry = Retry(total=self.config.retries, connect=self.config.retries, read=self.config.retries,
                      status=self.config.retries, status_forcelist=RETRY_STATUSES,
                      allowed_methods=frozenset({"GET"}), backoff_factor=self.config.backoff,
                      raise_on_status=False, respect_retry_after_header=True)
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, HTTPAdapter(max_retries=retry))

    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def stamp_url(self) -> str:
        return self.config.stamp_url

    @property
    def lsst_api_url(self) -> str:
        return self.config.lsst_api_url

    def object_url(self, oid: str, survey: str | None = None) -> str:
        if survey_of(oid, survey) == "LSST":
            return f"{self.lsst_api_url}/object_api/object?oid={quote(oid, safe='')}&survey_id=lsst"
        return f"{self.api_url}/ztf/v1/objects/{quote(oid, safe='')}"

    # --- Routes -------------------------------------------------------------------------------

    def query_objects(self, params: Mapping[str, Any], survey: str = "ZTF") -> dict[str, Any]:
        """One page of ``/ztf/v1/objects`` (or, for LSST, ``object_api/list_objects``, the
        parameters renamed to its names): {total, page, next, has_next, prev, has_prev, items}."""
        lsst = survey_of(None, survey) == "LSST"
        if lsst:
            url = f"{self.lsst_api_url}/object_api/list_objects"
            page = self._json(url, {**lsst_parameters(params), "survey": "lsst"})
        else:
            url = f"{self.api_url}/ztf/v1/objects"
            page = self._json(url, params)
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise AlerceBadResponse(f"{url}: answer has no 'items' list")
        if lsst:
            page = {**page, "page": page.get("current_page"), "items": [lsst_object(i) for i in page["items"]]}
        return page

    def query_object(self, oid: str, survey: str | None = None) -> dict[str, Any]:
        if survey_of(oid, survey) == "LSST":
            return lsst_object(self._dict(self._lsst_url("object_api/object"), {"oid": oid, "survey_id": "lsst"}))
        return self._dict(self.object_url(oid))

    def query_lightcurve(self, oid: str, survey: str | None = None) -> dict[str, Any]:
        """{"detections": [...], "non_detections": [...]} in ALeRCE's field names."""
        if survey_of(oid, survey) == "LSST":
            curve = self._dict(self._lsst_url("lightcurve_api/lightcurve"), {"oid": oid, "survey_id": "lsst"})
            return {"detections": [lsst_detection(d) for d in curve.get("detections") or []],
                    "non_detections": [_lsst_epoch(n) for n in curve.get("non_detections") or []]}
        curve = self._dict(f"{self.object_url(oid)}/lightcurve")
        return {"detections": curve.get("detections") or [], "non_detections": curve.get("non_detections") or []}

    def query_detections(self, oid: str, survey: str | None = None) -> list[dict[str, Any]]:
        if survey_of(oid, survey) == "LSST":
            return [lsst_detection(d) for d in self._lsst_list("lightcurve_api/detections", oid)]
        return self._list(f"{self.object_url(oid)}/detections")

    def query_probabilities(self, oid: str, survey: str | None = None) -> list[dict[str, Any]]:
        """Rows of classifier_name, classifier_version, class_name, probability, ranking."""
        if survey_of(oid, survey) == "LSST":
            return self._lsst_list("probability_api/probability", oid)
        return self._list(f"{self.object_url(oid)}/probabilities")

    def query_features(self, oid: str) -> list[dict[str, Any]]:
        return self._list(f"{self.object_url(oid, 'ZTF')}/features")

    def query_magstats(self, oid: str) -> list[dict[str, Any]]:
        """One row per band: ndet, magmean, magmedian, magmin, magmax, magsigma, magfirst, maglast
        (and their _corr apparent-magnitude twins), firstmjd, lastmjd, ..."""
        return self._list(f"{self.object_url(oid, 'ZTF')}/magstats")

    def query_classifiers(self) -> list[dict[str, Any]]:
        """Rows of classifier_name, classifier_version, classes."""
        return self._list(f"{self.api_url}/ztf/v1/classifiers")

    def query_forced_photometry(self, oid: str, survey: str | None = None) -> list[dict[str, Any]]:
        """ALeRCE's v2 forced-photometry rows (for LSST its ``forced-photometry`` epochs, with
        mag and e_mag where the flux is positive); [] where the server has no such route (404)."""
        try:
            if survey_of(oid, survey) == "LSST":
                return [lsst_forced(epoch) for epoch in self._lsst_list("lightcurve_api/forced-photometry", oid)]
            return self._list(f"{self.api_url}/v2/lightcurve/forced-photometry/{quote(oid, safe='')}")
        except AlerceNotFound:
            return []

    def get_stamp(self, oid: str, candid: int | str | None, stamp_type: str, fmt: str = "png",
                  survey: str | None = None) -> bytes:
        """One cutout of one alert (the server's choice when ``candid`` is None; a Rubin cutout
        is named by its detection's measurement_id, so it needs one), as PNG or as the
        (gzipped) FITS the survey sent."""
        if stamp_type not in STAMP_TYPES:
            raise ValueError(f"stamp_type must be one of {STAMP_TYPES}, not {stamp_type!r}")
        if fmt not in STAMP_FORMATS:
            raise ValueError(f"fmt must be one of {STAMP_FORMATS}, not {fmt!r}")
        if survey_of(oid, survey) == "LSST":
            if candid is None:
                raise ValueError(f"a Rubin stamp of {oid} needs its detection's measurement_id (candid)")
            url, params = self._lsst_url("stamps_api/stamp"), {
                "oid": oid, "measurement_id": str(candid), "stamp_type": f"cutout{stamp_type.title()}",
                "file_format": fmt, "survey_id": "lsst"}
        else:
            url, params = f"{self.stamp_url}/get_stamp", {"oid": oid, "type": stamp_type, "format": fmt}
            if candid is not None:
                params["candid"] = str(candid)
        url, content = self._get(url, params)
        if not content.startswith(PNG_MAGIC if fmt == "png" else FITS_MAGICS):
            raise AlerceBadResponse(f"{url}: answer is not a {fmt.upper()} image")
        return content

    def _lsst_url(self, route: str) -> str:
        return f"{self.lsst_api_url}/{route}"

    def _lsst_list(self, route: str, oid: str) -> list[dict[str, Any]]:
        return self._list(self._lsst_url(route), {"oid": oid, "survey_id": "lsst"})

    # --- Transport ----------------------------------------------------------------------------

    def _get(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[str, bytes]:
        """(final URL, body) of a GET that answered 2xx within ``timeout``; typed errors otherwise."""
        deadline = time.monotonic() + self.config.timeout
        timeout = (min(self.config.connect_timeout, self.config.timeout), self.config.timeout)
        try:
            with self.session.get(url, params=params, timeout=timeout, stream=True) as response:
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if time.monotonic() > deadline:
                        raise AlerceUnavailable(f"{response.url}: no complete answer within {self.config.timeout:g} s")
        except requests.Timeout as exc:
            raise AlerceUnavailable(f"{url}: no answer within {self.config.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise AlerceUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
        status, final_url = response.status_code, response.url
        if status < 400:
            return final_url, bytes(body)
        message = f"{final_url}: HTTP {status}: {bytes(body[:200]).decode('utf-8', 'replace')}"
        if status == 404:
            raise AlerceNotFound(message, status=status)
        if status >= 500 or status == 429:
            raise AlerceUnavailable(message, status=status)
        raise AlerceBadResponse(message, status=status)

    def _json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        final_url, body = self._get(url, params)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise AlerceBadResponse(f"{final_url}: answer is not JSON: {body[:100]!r}") from exc

    def _dict(self, url: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = self._json(url, params)
        if not isinstance(body, dict):
            raise AlerceBadResponse(f"{url}: expected a JSON object, got {type(body).__name__}")
        return body

    def _list(self, url: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        body = self._json(url, params)
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            raise AlerceBadResponse(f"{url}: expected a JSON list of objects")
        return body


def client_from_settings(settings: Any) -> AlerceClient:
    """The client every TOM app uses: ``client_from_settings(django.conf.settings)``."""
    return AlerceClient(config_from_settings(settings))
