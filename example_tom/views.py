"""The example TOM's home page: a tour of what the demo shows, with links to good examples."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Min, OuterRef, Subquery
from django.utils import timezone
from django.views.generic import TemplateView
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from alerce_broker_plugin.ingest import FORCED_REDUCTION
from alerce_broker_plugin.permissions import visible_targets
from alerce_contract.client import client_from_settings
from alerce_contract.taxonomy import (LC_CLASSES, LC_CLASSIFIER, LC_CLASSIFIER_LSST, PERIODIC, SN_CLASS,
                                     STAMP_CLASSES, STAMP_CLASSIFIER, STAMP_CLASSIFIER_LSST)
from example_tom.demo import SN_HUNTER_HOURS
from tom_alerce.models import TargetClassification

AGN_CLASSES = ("AGN", "QSO", "Blazar")


def best_example(visible, classifier_name: str, class_names, min_probability: float = 0.0,
                 first_detected_since: datetime | None = None) -> Target | None:
    """The visible target whose top class under ``classifier_name`` is one of ``class_names``
    (at least ``min_probability``; first detected since ``first_detected_since``) with the most
    detections, then the most probable: the one whose page shows the most."""
    rows = TargetClassification.objects.filter(target__in=visible, classifier_name=classifier_name,
                                               class_name__in=class_names, ranking=1,
                                               probability__gte=min_probability)
    detections = (PhotometryReducedDatum.objects.filter(target=OuterRef("target"), brightness__isnull=False)
                  .exclude(reduction_version=FORCED_REDUCTION).values("target"))
    rows = rows.annotate(n_detections=Subquery(detections.annotate(n=Count("id")).values("n")),
                         first_detection=Subquery(detections.annotate(first=Min("timestamp")).values("first")))
    if first_detected_since is not None:
        rows = rows.filter(first_detection__gte=first_detected_since)
    row = rows.select_related("target").order_by(F("n_detections").desc(nulls_last=True), "-probability").first()
    return row.target if row else None


class HomeView(TemplateView):
    """What the demo is, and where to look: the SN Hunter, four example targets, Tonight, the API."""

    template_name = "example_tom/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        visible = visible_targets(user) if user.is_authenticated else Target.objects.none()
        examples = [
            ("A fresh supernova", "the stamp classifier calls its first alert an SN",
             best_example(visible, STAMP_CLASSIFIER, [SN_CLASS], min_probability=0.8,
                          first_detected_since=timezone.now() - timedelta(hours=SN_HUNTER_HOURS))),
            ("A periodic variable star", "period and folded light curve on its ALeRCE tab",
             best_example(visible, LC_CLASSIFIER, PERIODIC) or best_example(visible, STAMP_CLASSIFIER, ["VS"])),
            ("An active galactic nucleus", "a nuclear source whose light curve varies stochastically",
             best_example(visible, LC_CLASSIFIER, AGN_CLASSES) or best_example(visible, STAMP_CLASSIFIER, ["AGN"])),
            ("A Rubin object", "an LSST alert history in up to six bands, classified by Rubin's own models",
             best_example(visible, LC_CLASSIFIER_LSST, LC_CLASSES)
             or best_example(visible, STAMP_CLASSIFIER_LSST, STAMP_CLASSES)),
        ]
        context.update(
            examples=examples, sn_hunter_hours=SN_HUNTER_HOURS, demo=getattr(settings, "DEMO", False),
            api_url=client_from_settings(settings).api_url,
            n_targets=visible.count(),
            last_classified=TargetClassification.objects.filter(target__in=visible).aggregate(Max("last_seen"))[
                "last_seen__max"])
        return context
