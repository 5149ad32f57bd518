"""A small HTTP client for the ALeRCE ZTF API: public (api.alerce.online) or self-hosted.

The official ``alerce`` client reads one global configuration and returns half-parsed
results; a TOM needs one client per configured base URL, a timeout, and one clear error
for every way a call can fail (HTTP status, timeout, refused connection, bad JSON), so that
nothing half-read is ever turned into targets.
"""
from __future__ import annotations

from typing import Any

import requests
from tom_dataservices.dataservices import QueryServiceError

PUBLIC_API_URL = "https://api.alerce.online"
PUBLIC_STAMP_URL = "https://avro.alerce.online"
STAMP_TYPES = ("science", "template", "difference")


class AlerceApiError(QueryServiceError):
    """The broker could not answer: the message says which URL and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, where the server answered with one


class AlerceApiClient:
    """The ALeRCE ZTF v1 routes this plugin uses, relative to one base URL."""

    def __init__(self, base_url: str = PUBLIC_API_URL, stamp_url: str | None = None,
                 timeout_s: float = 20.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.stamp_url = (stamp_url or PUBLIC_STAMP_URL).rstrip("/")
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    def query_objects(self, params: dict[str, Any]) -> dict[str, Any]:
        """One page of ``/ztf/v1/objects``: {total, page, next, has_next, prev, has_prev, items}."""
        page = self._get_json(f"{self.base_url}/ztf/v1/objects", params)
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise AlerceApiError(f"{self.base_url}/ztf/v1/objects: answer has no 'items' list")
        return page

    def query_object(self, oid: str) -> dict[str, Any]:
        return self._get_dict(f"{self.base_url}/ztf/v1/objects/{oid}")

    def query_lightcurve(self, oid: str) -> dict[str, Any]:
        """{"detections": [...], "non_detections": [...]} in ALeRCE's field names."""
        curve = self._get_dict(f"{self.base_url}/ztf/v1/objects/{oid}/lightcurve")
        return {"detections": curve.get("detections") or [], "non_detections": curve.get("non_detections") or []}

    def query_probabilities(self, oid: str) -> list[dict[str, Any]]:
        """Rows of classifier_name, classifier_version, class_name, probability, ranking."""
        return self._get_list(f"{self.base_url}/ztf/v1/objects/{oid}/probabilities")

    def query_classifiers(self) -> list[dict[str, Any]]:
        """Rows of classifier_name, classifier_version, classes."""
        return self._get_list(f"{self.base_url}/ztf/v1/classifiers")

    def query_forced_photometry(self, oid: str) -> list[dict[str, Any]]:
        """ALeRCE's v2 forced-photometry rows; [] where the server has no such route (404)."""
        try:
            return self._get_list(f"{self.base_url}/v2/lightcurve/forced-photometry/{oid}")
        except AlerceApiError as error:
            if error.status == 404:
                return []
            raise

    def get_stamp_png(self, oid: str, candid: int | str, stamp_type: str) -> bytes:
        """One cutout as PNG bytes from the ``get_stamp`` route."""
        if stamp_type not in STAMP_TYPES:
            raise ValueError(f"stamp_type must be one of {STAMP_TYPES}, not {stamp_type!r}")
        params = {"oid": oid, "candid": str(candid), "type": stamp_type, "format": "png"}
        response = self._get(f"{self.stamp_url}/get_stamp", params)
        if not response.content.startswith(b"\x89PNG"):
            raise AlerceApiError(f"{response.url}: answer is not a PNG image")
        return response.content

    def _get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        try:
            response = self.session.get(url, params=params, timeout=self.timeout_s)
        except requests.Timeout as exc:
            raise AlerceApiError(f"{url}: no answer within {self.timeout_s:g} s") from exc
        except requests.RequestException as exc:
            raise AlerceApiError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise AlerceApiError(f"{response.url}: HTTP {response.status_code}: {response.text[:200]}",
                                 status=response.status_code)
        return response

    def _get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        response = self._get(url, params)
        try:
            return response.json()
        except ValueError as exc:
            raise AlerceApiError(f"{response.url}: answer is not JSON: {response.text[:100]!r}") from exc

    def _get_dict(self, url: str) -> dict[str, Any]:
        body = self._get_json(url)
        if not isinstance(body, dict):
            raise AlerceApiError(f"{url}: expected a JSON object, got {type(body).__name__}")
        return body

    def _get_list(self, url: str) -> list[dict[str, Any]]:
        body = self._get_json(url)
        if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
            raise AlerceApiError(f"{url}: expected a JSON list of objects")
        return body
