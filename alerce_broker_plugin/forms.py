"""The query form: ALeRCE's object filters for ZTF or Rubin (LSST) objects, with the classifier
list cached between form builds."""
from __future__ import annotations

import logging

from django import forms
from django.core.cache import cache

from tom_dataservices.forms import BaseQueryForm

from alerce_broker_plugin import config
from alerce_contract.client import SURVEYS, AlerceApiError, AlerceClient
from alerce_contract.taxonomy import classifier_survey

log = logging.getLogger(__name__)

ORDER_BY_CHOICES = [(name, name) for name in
                    ("probability", "oid", "ndet", "firstmjd", "lastmjd", "meanra", "meandec")]
MAX_RESULTS = 100  # tom_dataservices' RunQueryView shows and caches at most 100 results
SURVEY_CHOICES = [("ZTF", "ZTF"), ("LSST", "LSST (Rubin)")]


def cached_classifiers(client: AlerceClient, ttl_s: float) -> list[dict]:
    """``/classifiers`` of this broker, kept in Django's cache for ``ttl_s`` seconds.

    A failed call is not cached, so the next form build asks again.
    """
    key = f"alerce_broker_plugin:classifiers:{client.api_url}"
    classifiers = cache.get(key)
    if classifiers is None:
        classifiers = client.query_classifiers()
        cache.set(key, classifiers, ttl_s)
    return classifiers


class AlerceBrokerQueryForm(BaseQueryForm):
    """Filters of ALeRCE's ``/objects`` route (ZTF) or ``list_objects`` (LSST); dates are MJD as
    in ALeRCE. The classifiers are offered grouped by the survey whose objects they classify."""

    survey = forms.ChoiceField(required=False, choices=SURVEY_CHOICES, initial="ZTF", label="Survey",
                               help_text="Rubin objects are asked from ALeRCE's LSST routes")
    classifier = forms.ChoiceField(required=False, label="Classifier")
    class_name = forms.ChoiceField(required=False, label="Class")
    probability = forms.FloatField(required=False, min_value=0, max_value=1, label="Minimum probability")
    ranking = forms.IntegerField(required=False, min_value=1, label="Ranking",
                                 help_text="1 = the class is the most probable one (the default)")
    ndet_min = forms.IntegerField(required=False, min_value=0, label="Min. detections")
    ndet_max = forms.IntegerField(required=False, min_value=0, label="Max. detections")
    firstmjd_min = forms.FloatField(required=False, label="First detection after (MJD)")
    firstmjd_max = forms.FloatField(required=False, label="First detection before (MJD)")
    lastmjd_min = forms.FloatField(required=False, label="Last detection after (MJD)")
    lastmjd_max = forms.FloatField(required=False, label="Last detection before (MJD)")
    ra = forms.FloatField(required=False, min_value=0, max_value=360, label="RA (deg)")
    dec = forms.FloatField(required=False, min_value=-90, max_value=90, label="Dec (deg)")
    radius = forms.FloatField(required=False, min_value=0, label="Radius (arcsec)")
    oid = forms.CharField(required=False, label="Object IDs", help_text="comma-separated")
    order_by = forms.ChoiceField(required=False, choices=[("", "")] + ORDER_BY_CHOICES)
    order_mode = forms.ChoiceField(required=False, choices=[("DESC", "descending"), ("ASC", "ascending")])
    max_results = forms.IntegerField(required=False, min_value=1, max_value=MAX_RESULTS, initial=20,
                                     label="Max. results")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.classes_by_classifier: dict[str, list[str]] = {}
        client = config.api_client()
        # Say which broker is asked, so a TOM meant for a self-hosted one sees it is not public ALeRCE.
        self.fields["classifier"].help_text = f"Classifiers of {client.api_url}"
        try:
            for row in cached_classifiers(client, config.classifier_cache_ttl_s()):
                classes = self.classes_by_classifier.setdefault(row["classifier_name"], [])
                classes.extend(name for name in row["classes"] if name not in classes)
        except AlerceApiError as error:
            log.warning("classifier list unavailable: %s", error)
            self.fields["classifier"].help_text = f"The broker's classifier list is unavailable: {error}"
        by_survey = {survey: [(name, name) for name in self.classes_by_classifier
                              if classifier_survey(name) == survey] for survey in SURVEYS}
        self.fields["classifier"].choices = [("", "")] + [(survey, names) for survey, names in by_survey.items() if names]
        self.fields["class_name"].choices = [("", "")] + [
            (name, [(class_name, class_name) for class_name in classes])
            for name, classes in self.classes_by_classifier.items()
        ]

    def clean(self):
        cleaned = super().clean() or {}
        classifier, class_name = cleaned.get("classifier"), cleaned.get("class_name")
        survey = cleaned.get("survey") or "ZTF"
        if classifier and classifier_survey(classifier) != survey:
            self.add_error("classifier", f"{classifier} classifies {classifier_survey(classifier)} objects, not "
                                         f"{survey} ones: choose one of the {survey} classifiers or Survey "
                                         f"{classifier_survey(classifier)}.")
        if class_name and not classifier:
            self.add_error("classifier", "Choose the classifier whose class you filter on.")
        elif class_name and class_name not in self.classes_by_classifier.get(classifier, []):
            self.add_error("class_name", f"{classifier} has no class {class_name!r}.")
        if len([key for key in ("ra", "dec", "radius") if cleaned.get(key) is not None]) not in (0, 3):
            self.add_error("radius", "A cone search needs RA, Dec and radius together.")
        for low, high in (("ndet_min", "ndet_max"), ("firstmjd_min", "firstmjd_max"), ("lastmjd_min", "lastmjd_max")):
            if cleaned.get(low) is not None and cleaned.get(high) is not None and cleaned[low] > cleaned[high]:
                self.add_error(high, "The maximum is below the minimum.")
        return cleaned
