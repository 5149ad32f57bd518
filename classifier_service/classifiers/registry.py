"""Which classifiers the worker runs: those listed here whose model artifacts are shipped.

A classifier engineer registers a class by adding its import path to ``CLASSIFIERS``; the
class needs a ``name`` and a ``from_artifacts(path=None)`` that raises FileNotFoundError
while its artifact is missing, so a checkout without trained models still runs (with no
classifications).
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence

from classifier_service.classifiers.base import Classifier

log = logging.getLogger(__name__)

CLASSIFIERS: list[str] = [
    "classifier_service.classifiers.stamp_classifier:StampClassifier",
    "classifier_service.classifiers.lc_classifier:LightCurveClassifier",
    "classifier_service.classifiers.rubin_lc_classifier:RubinLightCurveClassifier",
    "classifier_service.classifiers.rubin_stamp_classifier:RubinStampClassifier",
]


class UnknownClassifierError(ValueError):
    """A classifier name that no registered classifier declares: a typo, not a missing model."""


def load_classifiers(names: Sequence[str] | None = None) -> list[Classifier]:
    """Instances of the registered classifiers (optionally only ``names``) that can load;
    UnknownClassifierError for a name that no registered classifier has."""
    wanted = set(names) if names is not None else None
    declared_names: set[str] = set()
    loaded: list[Classifier] = []
    for path in CLASSIFIERS:
        module_name, _, class_name = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the module exists but one of its imports is missing
                log.warning("classifier %s cannot be imported: %s", path, exc)
            continue
        except (ImportError, AttributeError) as exc:
            log.warning("classifier %s cannot be imported: %s", path, exc)
            continue
        declared = getattr(cls, "name", None)
        if isinstance(declared, str):
            declared_names.add(declared)
        if wanted is not None and isinstance(declared, str) and declared not in wanted:
            continue
        try:
            classifier = cls.from_artifacts()
        except FileNotFoundError as exc:
            log.info("classifier %s has no model artifact yet: %s", path, exc)
            continue
        except ValueError as exc:  # an artifact this code cannot use (e.g. other feature version)
            log.error("classifier %s is not loaded: its artifact does not fit this code: %s", path, exc)
            continue
        if wanted is None or classifier.name in wanted:
            loaded.append(classifier)
    if wanted is not None:
        unknown = wanted - declared_names - {c.name for c in loaded}
        if unknown:
            raise UnknownClassifierError(f"no classifier is called {', '.join(sorted(unknown))}; "
                                         f"the registered ones: {', '.join(sorted(declared_names))}")
        missing = wanted - {c.name for c in loaded}
        if missing:
            log.warning("requested classifiers not loaded: %s", sorted(missing))
    return loaded
