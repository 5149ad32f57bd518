"""A small client for ALeRCE's ZTF API routes, served by api.alerce.online or by a self-hosted
classifier_service (``alerce-classifier serve``); the same routes and JSON shapes in both.

Only the routes the TOM pages need. Errors become ``AlerceApiError`` so a page can show
"the broker is unreachable" instead of failing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

ZTF_ROUTES = {
    "objects": "/ztf/v1/objects",
    "detections": "/ztf/v1/objects/{oid}/detections",
    "probabilities": "/ztf/v1/objects/{oid}/probabilities",
    "features": "/ztf/v1/objects/{oid}/features",
}
STAMP_ROUTE = "/get_stamp"
PUBLIC_API_URL = "https://api.alerce.online"
PUBLIC_STAMP_URL = "https://avro.alerce.online"


class AlerceApiError(RuntimeError):
    """The API could not be reached or answered something unusable."""


@dataclass
class AlerceApi:
    """ALeRCE ZTF API at ``api_url`` (no trailing /ztf/v1) and its stamp service at ``stamp_url``."""

    api_url: str
    stamp_url: str
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        self.api_url = self.api_url.rstrip("/")
        self.stamp_url = self.stamp_url.rstrip("/")
        self._session = requests.Session()

    def _get(self, url: str, params: dict | None = None) -> requests.Response:
        try:
            response = self._session.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise AlerceApiError(f"{url}: {exc}") from exc
        if response.status_code >= 400:
            raise AlerceApiError(f"{url}: HTTP {response.status_code} {response.text[:200]}")
        return response

    def _json(self, route: str, params: dict | None = None, **path: str) -> Any:
        response = self._get(self.api_url + ZTF_ROUTES[route].format(**path), params)
        try:
            return response.json()
        except ValueError as exc:
            raise AlerceApiError(f"{response.url}: not JSON") from exc

    def objects(self, **params: Any) -> list[dict]:
        """``/objects`` items (oid, meanra, meandec, ndet, firstmjd, lastmjd, class, probability, ...)."""
        body = self._json("objects", params)
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise AlerceApiError("objects: no items in the answer")
        return items

    def detections(self, oid: str) -> list[dict]:
        return list(self._json("detections", oid=oid))

    def probabilities(self, oid: str) -> list[dict]:
        return list(self._json("probabilities", oid=oid))

    def features(self, oid: str) -> list[dict]:
        return list(self._json("features", oid=oid))

    def stamp(self, oid: str, kind: str, candid: int | str | None = None) -> bytes:
        """One cutout (science, template or difference) as the service sends it (PNG or FITS)."""
        params = {"oid": oid, "type": kind, "format": "png"}
        if candid is not None:
            params["candid"] = str(candid)
        return self._get(self.stamp_url + STAMP_ROUTE, params).content


def api_from_settings() -> AlerceApi:
    """The API the TOM is configured for: ALERCE_API_URL, ALERCE_STAMP_URL (defaults: public ALeRCE)."""
    api_url = getattr(settings, "ALERCE_API_URL", "") or PUBLIC_API_URL
    stamp_url = getattr(settings, "ALERCE_STAMP_URL", "") or (
        PUBLIC_STAMP_URL if api_url == PUBLIC_API_URL else api_url)
    return AlerceApi(api_url, stamp_url, float(getattr(settings, "ALERCE_API_TIMEOUT", 5.0)))


def probabilities_as_classifications(rows: list[dict]) -> dict:
    """The API's probability rows in the stream's "classifications" shape."""
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(row["classifier_name"], {"version": str(row["classifier_version"]),
                                                        "probabilities": {}})
        if entry["version"] == str(row["classifier_version"]):
            entry["probabilities"][row["class_name"]] = float(row["probability"])
    return out
