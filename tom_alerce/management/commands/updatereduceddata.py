"""``manage.py updatereduceddata``: tomtoolkit's command without its failures on a TOM that cannot
reach every service (see tom_alerce.reduced_data). It wins over tomtoolkit's because
``tom_alerce`` comes before ``tom_dataproducts`` in ``INSTALLED_APPS`` (as its templates need).
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tom_targets.models import Target

from tom_alerce.reduced_data import update_reduced_data


class Command(BaseCommand):
    help = ("Asks each data service a target's reduced data came from for new data (every target "
            "with such data, or --target_id's); a failing service is reported, the rest go on.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--target_id", action="append",
                            help="a target to update, repeatable (default: every target with data from a service)")

    def handle(self, *args, **options) -> str:
        given = options["target_id"]
        if given is None:
            return update_reduced_data(Target.objects.all())
        # repeated on the command line; tomtoolkit's callers pass one id
        ids = {int(value) for value in (given if isinstance(given, (list, tuple)) else [given])}
        missing = ids - set(Target.objects.filter(pk__in=ids).values_list("id", flat=True))
        if missing:
            raise CommandError(f"no target with id {', '.join(map(str, sorted(missing)))}")
        return update_reduced_data(Target.objects.filter(pk__in=ids))
