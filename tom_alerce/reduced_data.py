"""Asking data services again for what they gave a target ("Check for new data"), so that a TOM
that cannot reach every service still updates from those it can.

tomtoolkit's ``updatereduceddata`` builds every installed data service before it looks at a
target, and Simbad's constructor asks SIMBAD's TAP server, so offline the button answered HTTP
500 even for a target whose data came only from the broker; and any error of a service other
than an HTTPError stopped the whole update. Here a target asks only the services its reduced
data came from, each built when first needed, and a service that fails (built or asked) is
reported with its reason while the other services and targets go on.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict

from django.db.models import QuerySet
from tom_dataproducts.models import REDUCED_DATUM_MODELS
from tom_dataservices.dataservices import get_data_service_classes
from tom_targets.models import Target

logger = logging.getLogger(__name__)

REASON_CHARS = 300  # of an error's text in the report the page shows


def update_reduced_data(targets: QuerySet) -> str:
    """Ask each of ``targets`` 's data services for new data; the report the page shows."""
    classes = get_data_service_classes()
    sources = sources_by_target(set(classes), targets)
    if not sources:
        return ("Nothing to update: no data of this target came from a data service (Data Services "
                "or the SN Hunter import it)" if targets.count() == 1 else
                "Nothing to update: no data of these targets came from a data service")
    services: dict[str, object] = {}
    failures: dict[str, list[str]] = defaultdict(list)
    for target_id, target in sorted(Target.objects.in_bulk(list(sources)).items()):  # in_bulk batches the ids
        for name in sorted(sources[target_id]):
            try:
                if name not in services:
                    services[name] = classes[name]()
                service = services[name]
                service.to_reduced_datums(target, service.query_reduced_data(target))
            except Exception as error:  # one service's outage must not stop the others
                logger.warning("updatereduceddata: %s for %s failed", name, target.name, exc_info=True)
                failures[name].append(f"{target.name}: {reason(error)}")
    if not failures:
        asked = Counter(name for names in sources.values() for name in names)
        return "Update completed successfully: asked " + ", ".join(
            f"{name} for {n} target{'s' if n > 1 else ''}" for name, n in sorted(asked.items()))
    return "Update completed with errors: " + "; ".join(
        f"{name} ({', '.join(failed)})" for name, failed in sorted(failures.items()))


def sources_by_target(service_names: set[str], targets: QuerySet) -> dict[int, set[str]]:
    """Target id -> the installed services its reduced data came from, for ``targets`` (a
    subquery, so a TOM's every target costs no list of ids)."""
    sources: dict[int, set[str]] = defaultdict(set)
    for model in REDUCED_DATUM_MODELS:
        rows = model.objects.filter(source_name__in=service_names, target__in=targets)
        for target, source in rows.values_list("target_id", "source_name").distinct():
            sources[target].add(source)
    return sources


def reason(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"
