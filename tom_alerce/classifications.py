"""Recording broker classifications on TOM targets, idempotently, with history.

``classifications`` has the shape the classified stream and ``alerce-classifier classify`` use:
``{classifier_name: {"version": str, "probabilities": {class_name: float}}}``.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tom_alerce.models import ClassificationHistory, TargetClassification

logger = logging.getLogger(__name__)

# Probabilities closer than this are the same value (float round trips through JSON and Avro).
PROBABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class ClassifierResult:
    """One classifier version's probabilities, validated."""

    classifier_name: str
    classifier_version: str
    probabilities: dict[str, float]

    def ranked(self) -> list[tuple[str, float, int]]:
        """(class_name, probability, ranking), ranking 1 the most probable; ties broken by name."""
        order = sorted(self.probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(name, p, rank) for rank, (name, p) in enumerate(order, start=1)]


def parse_classifications(classifications: Mapping) -> list[ClassifierResult]:
    """Validate the stream's "classifications" mapping; malformed entries are logged and skipped."""
    if not isinstance(classifications, Mapping):
        raise ValueError(f"classifications must be a mapping, not {type(classifications).__name__}")
    results = []
    for name, entry in classifications.items():
        try:
            version = str(entry["version"])
            probabilities = {str(k): float(v) for k, v in entry["probabilities"].items()}
            if not name or not version or not probabilities:
                raise ValueError("empty classifier name, version or probabilities")
            if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probabilities.values()):
                raise ValueError("probabilities must be finite and within [0, 1]")
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            logger.warning("skipping malformed classification %r: %s", name, exc)
            continue
        results.append(ClassifierResult(str(name), version, probabilities))
    return results


def _same(old: Mapping[str, float], new: Mapping[str, float]) -> bool:
    return old.keys() == new.keys() and all(abs(old[k] - new[k]) <= PROBABILITY_TOLERANCE for k in new)


def record_classifications(target, classifications: Mapping, source: str) -> bool:
    """Store ``classifications`` on ``target``; return whether anything changed.

    The same alert twice changes nothing (not even timestamps); a changed classifier version's
    rows are replaced and the new probabilities are appended to ``ClassificationHistory``.
    """
    results = parse_classifications(classifications)
    if not results:
        return False
    names = {r.classifier_name for r in results}
    with transaction.atomic():
        existing: dict[tuple[str, str], dict[str, TargetClassification]] = {}
        for row in TargetClassification.objects.select_for_update().filter(
                target=target, classifier_name__in=names):
            existing.setdefault((row.classifier_name, row.classifier_version), {})[row.class_name] = row
        changed = False
        for result in results:
            current = existing.get((result.classifier_name, result.classifier_version), {})
            if _same({k: r.probability for k, r in current.items()}, result.probabilities):
                continue
            _replace(target, result, current, source)
            changed = True
    return changed


def _replace(target, result: ClassifierResult, current: dict[str, TargetClassification], source: str) -> None:
    now = timezone.now()
    stale = [row.pk for name, row in current.items() if name not in result.probabilities]
    TargetClassification.objects.filter(pk__in=stale).delete()
    to_update, to_create = [], []
    for class_name, probability, ranking in result.ranked():
        row = current.get(class_name)
        if row is None:
            to_create.append(TargetClassification(
                target=target, classifier_name=result.classifier_name,
                classifier_version=result.classifier_version, class_name=class_name,
                probability=probability, ranking=ranking, source=source, first_seen=now, last_seen=now))
        else:
            row.probability, row.ranking, row.source, row.last_seen = probability, ranking, source, now
            to_update.append(row)
    TargetClassification.objects.bulk_create(to_create)
    TargetClassification.objects.bulk_update(to_update, ["probability", "ranking", "source", "last_seen"])
    ClassificationHistory.objects.create(
        target=target, classifier_name=result.classifier_name, classifier_version=result.classifier_version,
        probabilities=result.probabilities, source=source, recorded=now)


def probabilities_by_classifier(rows: Iterable[TargetClassification]) -> dict[tuple[str, str], dict[str, float]]:
    """(classifier_name, classifier_version) -> {class_name: probability}, most probable first."""
    grouped: dict[tuple[str, str], dict[str, float]] = {}
    for row in sorted(rows, key=lambda r: (r.classifier_name, r.classifier_version, r.ranking)):
        grouped.setdefault((row.classifier_name, row.classifier_version), {})[row.class_name] = row.probability
    return grouped
