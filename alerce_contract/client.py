"""The one HTTP client for ALeRCE's API, public (api.alerce.online) or self-hosted (``serve``).

Both serve the same ZTF routes and JSON shapes, and a ``get_stamp`` route for cutouts. Every
app (the DataService, the query form, the ALeRCE tab, the SN Hunter) builds this client from
one settings block, ``DATA_SERVICES["ALeRCEBroker"]``, read by :func:`config_from_settings`:

    DATA_SERVICES = {"ALeRCEBroker": {
        "api_url": "http://127.0.0.1:8001",   # without /ztf/v1; default https://api.alerce.online
        "stamp_url": "http://127.0.0.1:8001", # get_stamp; default: api_url (avro.alerce.online for public)
        "timeout": 20, "connect_timeout": 3.05, "retries": 2,
    }}

A self-hosted ``api_url`` never falls back to public ALeRCE for anything, stamps included.
Idempotent GETs are retried with backoff on refused connections and 5xx answers; every
failure becomes one typed error whose message names the URL and the reason, so a page can
say what went wrong and nothing half-read is turned into targets.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

PUBLIC_API_URL = "https://api.alerce.online"
PUBLIC_STAMP_URL = "https://avro.alerce.online"
SETTINGS_BLOCK = "ALeRCEBroker"
STAMP_TYPES = ("science", "template", "difference")
STAMP_FORMATS = ("png", "fits")
RETRY_STATUSES = (500, 502, 503, 504)
# Keys of the settings block read by the TOM apps rather than by the client.
TOM_KEYS = frozenset({"classifier_cache_ttl_s", "page_size", "result_classifiers"})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FITS_MAGICS = (b"SIMPLE", b"\x1f\x8b")  # plain or gzip-compressed FITS


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
    timeout: float = 20.0  # seconds for one whole answer, connecting and reading included
    connect_timeout: float = 3.05
    retries: int = 2
    backoff: float = 0.3  # seconds; doubled after each failed retry

    def __post_init__(self) -> None:
        api_url = str(self.api_url or PUBLIC_API_URL).rstrip("/")
        object.__setattr__(self, "api_url", api_url)
        default_stamps = PUBLIC_STAMP_URL if api_url == PUBLIC_API_URL else api_url
        object.__setattr__(self, "stamp_url", str(self.stamp_url or default_stamps).rstrip("/"))
        for name in ("timeout", "connect_timeout", "backoff"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "retries", int(self.retries))

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


def settings_block(settings: Any) -> dict[str, Any]:
    """``DATA_SERVICES["ALeRCEBroker"]`` of a settings object (Django's, duck-typed), {} if unset."""
    return dict((getattr(settings, "DATA_SERVICES", None) or {}).get(SETTINGS_BLOCK) or {})


def config_from_settings(settings: Any) -> AlerceConfig:
    """The broker every TOM app talks to, from the one settings block."""
    return AlerceConfig.from_block(settings_block(settings))


class AlerceClient:
    """ALeRCE's ZTF v1 routes, the v2 forced-photometry route and ``get_stamp``."""

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

    def object_url(self, oid: str) -> str:
        return f"{self.api_url}/ztf/v1/objects/{quote(oid, safe='')}"

    # --- Routes -------------------------------------------------------------------------------

    def query_objects(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """One page of ``/ztf/v1/objects``: {total, page, next, has_next, prev, has_prev, items}."""
        page = self._json(f"{self.api_url}/ztf/v1/objects", params)
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise AlerceBadResponse(f"{self.api_url}/ztf/v1/objects: answer has no 'items' list")
        return page

    def query_object(self, oid: str) -> dict[str, Any]:
        return self._dict(self.object_url(oid))

    def query_lightcurve(self, oid: str) -> dict[str, Any]:
        """{"detections": [...], "non_detections": [...]} in ALeRCE's field names."""
        curve = self._dict(f"{self.object_url(oid)}/lightcurve")
        return {"detections": curve.get("detections") or [], "non_detections": curve.get("non_detections") or []}

    def query_detections(self, oid: str) -> list[dict[str, Any]]:
        return self._list(f"{self.object_url(oid)}/detections")

    def query_probabilities(self, oid: str) -> list[dict[str, Any]]:
        """Rows of classifier_name, classifier_version, class_name, probability, ranking."""
        return self._list(f"{self.object_url(oid)}/probabilities")

    def query_features(self, oid: str) -> list[dict[str, Any]]:
        return self._list(f"{self.object_url(oid)}/features")

    def query_magstats(self, oid: str) -> list[dict[str, Any]]:
        """One row per band: ndet, magmean, magmedian, magmin, magmax, magsigma, magfirst, maglast
        (and their _corr apparent-magnitude twins), firstmjd, lastmjd, ..."""
        return self._list(f"{self.object_url(oid)}/magstats")

    def query_classifiers(self) -> list[dict[str, Any]]:
        """Rows of classifier_name, classifier_version, classes."""
        return self._list(f"{self.api_url}/ztf/v1/classifiers")

    def query_forced_photometry(self, oid: str) -> list[dict[str, Any]]:
        """ALeRCE's v2 forced-photometry rows; [] where the server has no such route (404)."""
        try:
            return self._list(f"{self.api_url}/v2/lightcurve/forced-photometry/{quote(oid, safe='')}")
        except AlerceNotFound:
            return []

    def get_stamp(self, oid: str, candid: int | str | None, stamp_type: str, fmt: str = "png") -> bytes:
        """One cutout of one alert (the server's choice when ``candid`` is None), as PNG or as
        the (gzipped) FITS the survey sent."""
        if stamp_type not in STAMP_TYPES:
            raise ValueError(f"stamp_type must be one of {STAMP_TYPES}, not {stamp_type!r}")
        if fmt not in STAMP_FORMATS:
            raise ValueError(f"fmt must be one of {STAMP_FORMATS}, not {fmt!r}")
        params = {"oid": oid, "type": stamp_type, "format": fmt}
        if candid is not None:
            params["candid"] = str(candid)
        url, content = self._get(f"{self.stamp_url}/get_stamp", params)
        if not content.startswith(PNG_MAGIC if fmt == "png" else FITS_MAGICS):
            raise AlerceBadResponse(f"{url}: answer is not a {fmt.upper()} image")
        return content

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

    def _dict(self, url: str) -> dict[str, Any]:
        body = self._json(url)
        if not isinstance(body, dict):
            raise AlerceBadResponse(f"{url}: expected a JSON object, got {type(body).__name__}")
        return body

    def _list(self, url: str) -> list[dict[str, Any]]:
        body = self._json(url)
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            raise AlerceBadResponse(f"{url}: expected a JSON list of objects")
        return body


def client_from_settings(settings: Any) -> AlerceClient:
    """The client every TOM app uses: ``client_from_settings(django.conf.settings)``."""
    return AlerceClient(config_from_settings(settings))
