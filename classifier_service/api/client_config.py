"""The ``alerce`` client's configuration file for a self-hosted API.

The client reads its base URLs from the JSON file named by ``ALERCE_CONFIG_PATH``; this
writes one that sends its ZTF queries, its LSST (multisurvey) queries and both stamp
services here. Only routes ``serve`` has are advertised: the store keeps no alert packets,
so the stamp services list no ``get_avro`` (the client's ``get_avro`` then fails at once
with a KeyError naming it, instead of fetching an error page as if it were Avro).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ZTF_ROUTES = {
    "objects": "/ztf/v1/objects",
    "single_object": "/ztf/v1/objects/%s",
    "detections": "/ztf/v1/objects/%s/detections",
    "non_detections": "/ztf/v1/objects/%s/non_detections",
    "lightcurve": "/ztf/v1/objects/%s/lightcurve",
    "magstats": "/ztf/v1/objects/%s/magstats",
    "probabilities": "/ztf/v1/objects/%s/probabilities",
    "features": "/ztf/v1/objects/%s/features",
    "single_feature": "/ztf/v1/objects/%s/features/%s",
    "classifiers": "/ztf/v1/classifiers",
    "classifier_classes": "/ztf/v1/classifiers/%s/%s/classes",
    "forced_photometry": "/v2/lightcurve/forced-photometry/%s",
}
# ALeRCE's multisurvey routes, relative to URL_MS (which ends in "/").
MULTISURVEY_ROUTES = {
    "objects": "object_api/list_objects",
    "single_object": "object_api/object",
    "detections": "lightcurve_api/detections",
    "forced_photometry": "lightcurve_api/forced-photometry",
    "non_detections": "lightcurve_api/non_detections",
    "lightcurve": "lightcurve_api/lightcurve",
    "probabilities": "probability_api/probability",
}


def alerce_client_config(base_url: str) -> dict[str, Any]:
    """The client's config dict with every service it can use here at ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "ztf": {"ZTF_API_URL": base, "ZTF_ROUTES": dict(ZTF_ROUTES)},
        "stamps_ztf": {"AVRO_URL": base, "AVRO_ROUTES": {"get_stamp": "/get_stamp"}},
        "multisurvey": {"URL_MS": f"{base}/", "ROUTES_MS": dict(MULTISURVEY_ROUTES)},
        "stamps": {"STAMP_URL": f"{base}/stamps_api", "AVRO_ROUTES": {"get_stamp": "/stamp"}},
    }


def write_alerce_client_config(base_url: str, path: Path) -> Path:
    """Write the config file; export ``ALERCE_CONFIG_PATH=path`` before importing ``alerce``."""
    path = Path(path)
    path.write_text(json.dumps(alerce_client_config(base_url), indent=2))
    return path
