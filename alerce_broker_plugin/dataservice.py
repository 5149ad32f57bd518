"""The ``tom_dataservices`` DataService for an ALeRCE API, public or self-hosted.

Unlike the DataService bundled with tomtoolkit, this one is configured by base URL (see
:mod:`alerce_broker_plugin.config`), asks ZTF's routes or, for Survey LSST, ALeRCE's LSST routes
for Rubin objects, caches the classifier list, follows ALeRCE's paging,
shows each result's stamp and light-curve classes, and on target creation stores extras,
aliases, photometry (detections, limits, forced), cutouts and the full classifications
through the same :mod:`alerce_broker_plugin.ingest` mapping the live listener uses.
Everything for one object is fetched before anything is written: a broker that fails
half-way leaves nothing behind.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from django.contrib import messages
from tom_dataservices.dataservices import DataService, QueryServiceError
from tom_targets.models import Target

from alerce_broker_plugin import config, ingest
from alerce_broker_plugin.permissions import can_change, import_refusal
from alerce_contract.client import STAMP_TYPES, AlerceApiError, AlerceClient, survey_of
from alerce_contract.names import broker_name
from alerce_contract.taxonomy import LC_CLASSIFIERS, STAMP_CLASSIFIERS, classifier_survey
from alerce_broker_plugin.forms import MAX_RESULTS, AlerceBrokerQueryForm, cached_classifiers

DEFAULT_MAX_RESULTS = 20
logger = logging.getLogger(__name__)


def build_api_parameters(form_data: dict[str, Any]) -> dict[str, Any]:
    """Cleaned form data (or a saved query's parameters) to ALeRCE ``/objects`` parameters (the
    client renames them for the LSST route: ndet -> n_det, class -> class_name).

    Ranges go out as ALeRCE's repeated parameters (``ndet=2&ndet=10``); an open lower end
    becomes 0 because ALeRCE reads a single value as the lower bound.
    """
    params: dict[str, Any] = {"count": "true"}
    for form_key, api_key in (("classifier", "classifier"), ("class_name", "class"),
                              ("probability", "probability"), ("ranking", "ranking"),
                              ("order_by", "order_by"), ("order_mode", "order_mode")):
        if form_data.get(form_key) not in (None, ""):
            params[api_key] = form_data[form_key]
    if "order_mode" in params and "order_by" not in params:
        del params["order_mode"]
    for name in ("ndet", "firstmjd", "lastmjd"):
        low, high = form_data.get(f"{name}_min"), form_data.get(f"{name}_max")
        if high is not None:
            params[name] = [low if low is not None else 0, high]
        elif low is not None:
            params[name] = [low]
    if all(form_data.get(key) is not None for key in ("ra", "dec", "radius")):
        params.update(ra=form_data["ra"], dec=form_data["dec"], radius=form_data["radius"])
    oids = [oid.strip() for oid in (form_data.get("oid") or "").split(",") if oid.strip()]
    if oids:
        params["oid"] = oids
    return params


def result_classifiers(survey: str) -> list[str]:
    """The configured result classifiers that classify this survey's objects; where none does
    (the default list names ZTF's), the survey's own stamp and light-curve classifiers."""
    configured = [name for name in config.result_classifiers() if classifier_survey(name) == survey]
    return configured or [name for name in STAMP_CLASSIFIERS + LC_CLASSIFIERS if classifier_survey(name) == survey]


class BrokerQueryError(QueryServiceError, AlerceApiError):
    """A broker failure as tom_dataservices' pages expect it (they show QueryServiceError)."""


def _as_query_error(method):
    @functools.wraps(method)
    def reported(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except BrokerQueryError:
            raise
        except AlerceApiError as error:
            raise BrokerQueryError(str(error), status=error.status) from error
    return reported


class AlerceBrokerDataService(DataService):
    name = config.SERVICE_NAME
    verbose_name = "ALeRCE broker (public ALeRCE or a self-hosted classifier_service)"
    info_url = "https://alerce.readthedocs.io/en/latest/ztf_api.html"
    service_notes = "Classifier, class, probability, detections, dates (MJD) and cone search over ALeRCE's API."
    query_results_table = "alerce_broker_plugin/partials/results_table.html"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.api: AlerceClient = config.api_client()
        self._objects: dict[str, ingest.BrokerObject] = {}  # fetched once per oid per instance
        self._oid_of_target: dict[str, str] = {}  # target name -> broker oid, for targets made here
        self.warnings: dict[str, str] = {}  # oid -> what could not be imported

    @classmethod
    def get_form_class(cls):
        return AlerceBrokerQueryForm

    @classmethod
    def urls(cls, **kwargs) -> dict:
        return {"base_url": config.api_client().api_url, "info_url": cls.info_url}

    # --- Querying --------------------------------------------------------------------------

    def build_query_parameters(self, parameters: dict, **kwargs) -> dict[str, Any]:
        """Saved or submitted form data to {"api": ALeRCE parameters, "survey": "ZTF" | "LSST",
        "max_results": n}; a query saved before the Survey field was there asks ZTF."""
        max_results = min(int(parameters.get("max_results") or DEFAULT_MAX_RESULTS), MAX_RESULTS)
        return {"api": build_api_parameters(parameters), "survey": survey_of(None, parameters.get("survey")),
                "max_results": max_results}

    def build_query_parameters_from_target(self, target: Target, **kwargs) -> dict[str, Any]:
        oid = self._broker_oid(target)
        return {"api": {"oid": [oid]}, "survey": survey_of(oid), "max_results": 1}

    @_as_query_error
    def query_service(self, query_parameters: dict, **kwargs) -> list[dict[str, Any]]:
        """Walk ALeRCE's pages until ``max_results`` objects or the last page."""
        wanted = int(query_parameters.get("max_results", DEFAULT_MAX_RESULTS))
        survey = query_parameters.get("survey", "ZTF")
        page_size = min(wanted, config.page_size())
        items: list[dict[str, Any]] = []
        page_number = 1
        while len(items) < wanted:
            page = self.api.query_objects({**query_parameters["api"], "page": page_number, "page_size": page_size},
                                          survey=survey)
            items.extend(page["items"])
            self.query_results = {"total": page.get("total"), "pages_read": page_number, "survey": survey}
            if not page.get("has_next") or not page["items"]:
                break
            page_number = int(page.get("next") or page_number + 1)
        return items[:wanted]

    @_as_query_error
    def query_targets(self, query_parameters: dict, **kwargs) -> list[dict[str, Any]]:
        """The objects, each with its top class under every result classifier of its survey
        that this broker has (one objects call per classifier, by oid list)."""
        items = self.query_service(query_parameters, **kwargs)
        if not items:
            return items
        oids = [item["oid"] for item in items]
        survey = query_parameters.get("survey", "ZTF")
        known = {row["classifier_name"] for row in cached_classifiers(self.api, config.classifier_cache_ttl_s())}
        for classifier_name in (name for name in result_classifiers(survey) if name in known):
            page = self.api.query_objects({"oid": oids, "classifier": classifier_name, "ranking": 1,
                                           "page_size": len(oids)}, survey=survey)
            tops = {row["oid"]: row for row in page["items"]}
            for item in items:
                top = tops.get(item["oid"], {})
                item[f"{classifier_name}_class"] = top.get("class")
                item[f"{classifier_name}_probability"] = top.get("probability")
        return items

    def get_additional_context_data(self) -> dict[str, Any]:
        survey = self.query_results.get("survey", "ZTF")
        return {"alerce_total": self.query_results.get("total"), "alerce_survey": survey,
                "alerce_result_classifiers": result_classifiers(survey)}

    # --- Creating targets ------------------------------------------------------------------

    @_as_query_error
    def fetch_object(self, oid: str, summary: dict[str, Any] | None = None) -> ingest.BrokerObject:
        """Everything about one object, from the API, before anything is written."""
        if oid not in self._objects:
            survey = survey_of(oid, (summary or {}).get("survey"))
            summary = summary if summary is not None else self.api.query_object(oid, survey)
            obj = ingest.object_from_api(summary, self.api.query_lightcurve(oid, survey),
                                         self.api.query_probabilities(oid, survey),
                                         self.api.query_forced_photometry(oid, survey))
            if obj.stamp_candid is not None:
                obj.cutouts = self._fetch_cutouts(obj)
            self._objects[oid] = obj
        return self._objects[oid]

    def _fetch_cutouts(self, obj: ingest.BrokerObject) -> dict[str, bytes]:
        """The discovery cutouts not stored yet; one the broker cannot give is left out and
        remembered as a warning: a target is worth having without its stamps."""
        oid, candid = obj.oid, obj.stamp_candid
        cutouts, failed = {}, []
        for kind in ingest.missing_cutouts(oid, candid, STAMP_TYPES):
            try:
                cutouts[kind] = self.api.get_stamp(oid, candid, kind, survey=obj.survey)
            except AlerceApiError as exc:
                failed.append(f"{kind}: {exc}")
        if failed:
            self.warnings[oid] = f"{oid}: stamps of alert {candid} not imported ({'; '.join(failed)})"
            logger.warning(self.warnings[oid])
        return cutouts

    def to_target(self, target_result: dict | None = None, **kwargs) -> Target | None:
        """tomtoolkit's Create Targets, refused (None, the reason on the page) where the object's
        target in this TOM (by name, alias or position) is one the user may not change:
        tomtoolkit would otherwise update it and give the user, and the user's groups, every
        permission on it."""
        if target_result and self.user is not None:
            refusal = import_refusal(self.fetch_object(target_result["oid"], target_result), self.user)
            if refusal is not None:
                if (request := kwargs.get("request")) is not None:
                    messages.error(request, refusal)
                return None
        return super().to_target(target_result, **kwargs)

    def create_target_from_query(self, target_result: dict, **kwargs) -> Target:
        """The TOM's target for this object (matched by name, alias or position) or a new one;
        a part the broker could not give (stamps) becomes a warning on the page."""
        obj = self.fetch_object(target_result["oid"], target_result)
        request = kwargs.get("request")
        if request is not None and obj.oid in self.warnings:
            messages.warning(request, self.warnings[obj.oid])
        target = ingest.find_target(obj.oid, obj.ra, obj.dec) or Target(
            name=obj.oid, type=Target.SIDEREAL, ra=obj.ra, dec=obj.dec, epoch=2000.0)
        self._oid_of_target[target.name] = obj.oid
        return target

    def create_target_extras_from_query(self, query_results: dict, **kwargs) -> dict[str, str]:
        return ingest.target_extras(self.fetch_object(query_results["oid"], query_results))

    def query_reduced_data(self, target: Target, **kwargs) -> dict[str, Any]:
        """The object's record under ``photometry`` (also refreshes classifications and cutouts);
        QueryServiceError for a user who may not change ``target`` (tomtoolkit's update-data
        form takes any target id)."""
        if self.user is not None and not can_change(self.user, target):
            raise QueryServiceError("not updated: you do not have access to this target")
        oid = self._oid_of_target.get(target.name) or self._broker_oid(target)
        return {"photometry": self.fetch_object(oid)}

    def create_reduced_datums_from_query(self, target: Target, data: ingest.BrokerObject = None,
                                         data_type: str | None = None, **kwargs) -> list:
        return self.import_object(data).new_photometry

    def import_object(self, obj: ingest.BrokerObject) -> ingest.IngestResult:
        """Write one fetched object to the TOM: the one import every page uses (this service's
        Create Targets, the SN Hunter's "Create target")."""
        return ingest.ingest_object(obj, source_name=self.name, source_location=self.api.object_url(obj.oid, obj.survey))

    def _broker_oid(self, target: Target) -> str:
        """The name the broker knows the target by (see alerce_contract.names)."""
        return broker_name(target.names)
