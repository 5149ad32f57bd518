"""Where a classifier's trained models live and which version is the newest, for every classifier.

A model version is a folder ``<models>/<classifier name>/<version>/`` holding its artifact
file; the newest is chosen by version order (the contract's rule), so "1.10.0" beats
"1.9.0" and a release beats its own "rc" builds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alerce_contract.classifications import version_key

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def newest_version_dir(root: Path, artifact: str) -> Path:
    """The newest ``root/<version>/`` that holds ``artifact``; FileNotFoundError when none does."""
    versions = [p.parent for p in root.glob(f"*/{artifact}") if p.is_file()] if root.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"no model artifact {artifact} under {root}")
    return max(versions, key=lambda p: version_key(p.name))


def version_dir(path: Path, artifact: str) -> Path:
    """``path`` itself when it holds ``artifact`` (one version), else its newest version folder."""
    return path if (path / artifact).is_file() else newest_version_dir(path, artifact)


def load_bundle(path: Path | str | None, models_dir: Path, artifact: str, kind: type) -> Any:
    """The ``kind`` object pickled in ``path`` (a model file or a version folder), else in the newest
    version under ``models_dir``; FileNotFoundError when there is none, ValueError when it is no ``kind``."""
    import joblib

    path = Path(path) if path is not None else models_dir
    if path.is_dir():
        path = version_dir(path, artifact) / artifact
    if not path.exists():
        raise FileNotFoundError(f"model artifact {path} does not exist")
    bundle = joblib.load(path)
    if not isinstance(bundle, kind):
        raise ValueError(f"{path} holds no {kind.__name__}")
    return bundle
