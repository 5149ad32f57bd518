"""The ``alerce`` client's configuration file for a self-hosted API.

The client reads its base URLs from the JSON file named by ``ALERCE_CONFIG_PATH``; this
writes one that sends its ZTF queries and stamp downloads here and leaves the rest
(the multisurvey LSST API) as the client ships it.
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


def alerce_client_config(base_url: str) -> dict[str, Any]:
    """The client's config dict with its ZTF and ZTF-stamp services at ``base_url``."""
    base = base_url.rstrip("/")
    config = _shipped_config()
    config["ztf"] = {"ZTF_API_URL": base, "ZTF_ROUTES": dict(ZTF_ROUTES)}
    config["stamps_ztf"] = {"AVRO_URL": base,
                            "AVRO_ROUTES": {"get_stamp": "/get_stamp", "get_avro": "/get_avro"}}
    return config


def write_alerce_client_config(base_url: str, path: Path) -> Path:
    """Write the config file; export ``ALERCE_CONFIG_PATH=path`` before importing ``alerce``."""
    path = Path(path)
    path.write_text(json.dumps(alerce_client_config(base_url), indent=2))
    return path


def _shipped_config() -> dict[str, Any]:
    try:
        from importlib.resources import files

        return json.loads(files("alerce").joinpath("default_config.json").read_text())
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
