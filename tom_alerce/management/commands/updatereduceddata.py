"""``manage.py updatereduceddata``, behind the target page's "Check for new data" button: tomtoolkit's
command, without its two failures on a TOM that cannot reach every service.

tomtoolkit's command builds every installed data service before it looks at a target, and
Simbad's constructor asks SIMBAD's TAP server, so offline the button answered HTTP 500 even for a
target whose data came only from the broker; and any error of a service other than an HTTPError
stopped the whole update. Here a target asks only the services its reduced data came from, each
built when first needed, and a service that fails (built or asked) is reported with its reason
while the other services and targets go on. ``target_id`` may also be a list of ids (tom_alerce's
"Check for new data" view passes the targets the user may change). It wins over tomtoolkit's because ``tom_alerce``
comes before ``tom_dataproducts`` in ``INSTALLED_APPS`` (as its templates need).
"""
from __future__ import annotations

import logging
from collections import defaultdict

from django.core.management.base import BaseCommand, CommandError
from tom_dataproducts.models import REDUCED_DATUM_MODELS
from tom_dataservices.dataservices import get_data_service_classes
from tom_targets.models import Target

logger = logging.getLogger(__name__)

REASON_CHARS = 300  # of an error's text in the report the page shows


class Command(BaseCommand):
    help = ("Asks each data service a target's reduced data came from for new data (every target "
            "with such data, or --target_id's); a failing service is reported, the rest go on.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--target_id", action="append",
                            help="a target to update, repeatable (default: every target with data from a service)")

    def handle(self, *args, **options) -> str:
        classes = get_data_service_classes()
        sources = sources_by_target(set(classes), target_ids(options["target_id"]))
        services: dict[str, object] = {}
        failures: dict[str, list[str]] = defaultdict(list)
        for target in Target.objects.filter(id__in=sources).order_by("id"):
            for name in sorted(sources[target.id]):
                try:
                    if name not in services:
                        services[name] = classes[name]()
                    service = services[name]
                    service.to_reduced_datums(target, service.query_reduced_data(target))
                except Exception as error:  # one service's outage must not stop the others
                    logger.warning("updatereduceddata: %s for %s failed", name, target.name, exc_info=True)
                    failures[name].append(f"{target.name}: {reason(error)}")
        if not failures:
            return "Update completed successfully"
        return "Update completed with errors: " + "; ".join(
            f"{name} ({', '.join(failed)})" for name, failed in sorted(failures.items()))


def target_ids(given: None | int | str | list) -> list[int] | None:
    """The ids asked for (one, as tomtoolkit's callers pass it, or several), checked; None for all."""
    if given is None:
        return None
    ids = [int(value) for value in (given if isinstance(given, (list, tuple)) else [given])]
    missing = set(ids) - set(Target.objects.filter(pk__in=ids).values_list("id", flat=True))
    if missing:
        raise CommandError(f"no target with id {', '.join(map(str, sorted(missing)))}")
    return ids


def sources_by_target(service_names: set[str], ids: list[int] | None) -> dict[int, set[str]]:
    """Target id -> the installed services its reduced data came from (of ``ids``, or of all)."""
    sources: dict[int, set[str]] = defaultdict(set)
    for model in REDUCED_DATUM_MODELS:
        rows = model.objects.filter(source_name__in=service_names)
        if ids is not None:
            rows = rows.filter(target_id__in=ids)
        for target, source in rows.values_list("target_id", "source_name").distinct():
            sources[target].add(source)
    return sources


def reason(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"
