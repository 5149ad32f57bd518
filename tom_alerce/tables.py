"""The TOM's target list with each target's top stamp and light-curve class as sortable columns."""
from __future__ import annotations

import django_tables2 as tables
from django.db.models import OuterRef, Subquery
from tom_targets.tables import TargetTable
from tom_targets.views import TargetListView

from alerce_contract.taxonomy import LC_CLASSIFIERS, STAMP_CLASSIFIERS
from tom_alerce.models import TargetClassification

# Each column reads every survey's classifier of its kind: a Rubin target shows Rubin's.
COLUMNS = {"stamp": STAMP_CLASSIFIERS, "lc": LC_CLASSIFIERS}


def with_top_classes(queryset):
    """Annotate alerce_<stamp|lc>_class and _probability: one subquery each, sortable in SQL."""
    annotations = {}
    for prefix, classifiers in COLUMNS.items():
        top = (TargetClassification.objects.filter(target=OuterRef("pk"), classifier_name__in=classifiers, ranking=1)
               .order_by("-last_seen"))
        annotations[f"alerce_{prefix}_class"] = Subquery(top.values("class_name")[:1])
        annotations[f"alerce_{prefix}_probability"] = Subquery(top.values("probability")[:1])
    return queryset.annotate(**annotations)


class ClassColumn(tables.Column):
    """"SN (0.93)": the class, with the probability the column sorts by."""

    def __init__(self, prefix: str, verbose_name: str):
        super().__init__(verbose_name=verbose_name, accessor=f"alerce_{prefix}_class",
                         order_by=(f"alerce_{prefix}_probability",), default="")
        self.probability_attr = f"alerce_{prefix}_probability"

    def render(self, value, record):
        probability = getattr(record, self.probability_attr, None)
        return value if probability is None else f"{value} ({probability:.2f})"


class ClassifiedTargetTable(TargetTable):
    stamp_class = ClassColumn("stamp", "Stamp class")
    lc_class = ClassColumn("lc", "LC class")

    class Meta(TargetTable.Meta):
        fields = [*TargetTable.Meta.fields, "stamp_class", "lc_class"]

    # Degrees to 5 decimals (0.04 arcsec, finer than ZTF's astrometry), not float64's 15.
    def render_ra(self, value) -> str:
        return f"{value:.5f}"

    def render_dec(self, value) -> str:
        return f"{value:+.5f}"


class ClassifiedTargetListView(TargetListView):
    table_class = ClassifiedTargetTable

    def get_queryset(self, *args, **kwargs):
        return with_top_classes(super().get_queryset(*args, **kwargs))
