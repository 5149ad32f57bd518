"""SN Hunter: fresh supernova candidates (stamp classifier's top class SN) from the broker's API
and from targets already in the TOM, merged by oid and sorted by probability.

The API part asks each survey's objects route once, with that survey's stamp classifier (ZTF's
``/objects`` with stamp_classifier, the LSST ``list_objects`` with stamp_classifier_lsst), and
then each candidate's first detection, host hints (ZTF only: the nearest PS1 source, ALeRCE's
sgscore1 / distpsnr1 / PS1 magnitude features) and stamp probabilities in parallel; those never
change, so they are cached. A survey whose route fails is reported; the other's candidates stay.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import TargetExtra

from alerce_contract.bands import BAND_OF_FID
from alerce_contract.client import AlerceApiError, AlerceClient, survey_of
from alerce_contract.classifications import classifications_from_probabilities
from alerce_contract.mjd import datetime_to_mjd, now_mjd
from alerce_contract.taxonomy import SN_CLASS, STAMP_CLASSIFIER, STAMP_CLASSIFIERS, classifier_survey
from alerce_broker_plugin.config import classifier_cache_ttl_s
from alerce_broker_plugin.forms import cached_classifiers
from alerce_broker_plugin.ingest import discovery_stamp_candid
from alerce_broker_plugin.permissions import visible_targets
from tom_alerce.models import TargetClassification

logger = logging.getLogger(__name__)

# The nearest PS1 source (ZTF alert fields, ALeRCE features): star/galaxy score, distance and
# its g, r, i magnitudes; a galaxy a few arcseconds away is the hint of a supernova's host.
HOST_HINTS = ("sgscore1", "distpsnr1", "sgmag1", "srmag1", "simag1")
DETAILS_CACHE_S = 3600
ENRICH_WORKERS = 8
TOM_SCAN_LIMIT = 500  # SN-ranked targets examined per page; the freshest of them are shown


@dataclass(frozen=True, slots=True)
class HunterFilters:
    hours: float = 24.0
    min_probability: float = 0.5
    max_magnitude: float | None = None  # keep candidates brighter than this at first detection
    limit: int = 30


@dataclass(slots=True)
class Candidate:
    oid: str
    ra: float
    dec: float
    probability: float
    ndet: int | None = None
    firstmjd: float | None = None
    first_detection: dict = field(default_factory=dict)  # candid, mjd, fid, band, magpsf, sigmapsf, stamp_candid
    host: dict = field(default_factory=dict)  # HOST_HINTS
    stamp_probabilities: dict = field(default_factory=dict)  # class -> P, the stamp classifier's, most probable first
    target_id: int | None = None
    sources: tuple[str, ...] = ()
    stamps: dict = field(default_factory=dict)  # kind -> cutout URL, filled by the view
    actions: dict = field(default_factory=dict)  # "tns", "followup" -> URL or None, filled by the view


def _first_detection(detections: Iterable[dict]) -> dict:
    """The first detection's facts, and ``stamp_candid``: the first alert that carried stamps
    (the discovery stamps; a self-hosted store keeps only those)."""
    detections = list(detections)
    first = min(detections, key=lambda d: d.get("mjd", float("inf")), default=None)
    if not first:
        return {}
    keys = ("candid", "mjd", "fid", "magpsf", "sigmapsf", "isdiffpos", "rb", "drb", *HOST_HINTS)
    details = {k: first[k] for k in keys if first.get(k) is not None}
    details["band"] = BAND_OF_FID.get(first.get("fid"), str(first.get("fid")))
    details["stamp_candid"] = discovery_stamp_candid(detections)
    return details


def _stamp_probabilities(rows: Iterable[dict]) -> dict[str, float]:
    """The stamp classifier's probabilities (ZTF's or Rubin's, whichever answered), most probable first."""
    classifications = classifications_from_probabilities(list(rows))
    probabilities = next((classifications[name]["probabilities"] for name in STAMP_CLASSIFIERS
                          if name in classifications), {})
    return dict(sorted(probabilities.items(), key=lambda item: -item[1]))


def _host_hints(first: dict, features: Iterable[dict]) -> dict:
    """The PS1 neighbour's fields; ZTF writes -999 where there is no neighbour or no value."""
    hints = {k: first[k] for k in HOST_HINTS if k in first}
    for feature in features:
        if feature.get("name") in HOST_HINTS and feature.get("value") is not None:
            hints.setdefault(feature["name"], feature["value"])
    return {k: v for k, v in hints.items() if isinstance(v, (int, float)) and v > -99}


def _details(api: AlerceClient, oid: str) -> tuple[dict, dict, dict]:
    """(first detection, host hints, stamp probabilities) of one object, cached: none changes
    once known (the stamp classifier sees the first alert only)."""
    key = f"tom_alerce:sn_details:{api.api_url}:{oid}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    first = _first_detection(api.query_detections(oid))
    try:  # Rubin alerts name no PS1 neighbour, and the LSST routes serve no features
        features = api.query_features(oid) if survey_of(oid) == "ZTF" else []
    except AlerceApiError:  # a self-hosted store may have no features yet: the hints stay empty
        features = []
    details = (first, _host_hints(first, features), _stamp_probabilities(api.query_probabilities(oid)))
    if first:
        cache.set(key, details, DETAILS_CACHE_S)
    return details


def api_candidates(api: AlerceClient, filters: HunterFilters, stamp_classifier: str) -> list[Candidate]:
    """Objects whose classification by ``stamp_classifier`` ranks SN first, first detected in the
    last hours, from the objects route of the survey that classifier answers for."""
    start = now_mjd() - filters.hours / 24.0
    items = api.query_objects({"classifier": stamp_classifier, "class": SN_CLASS, "ranking": 1,
                               "probability": filters.min_probability, "firstmjd": [start, now_mjd() + 1],
                               "order_by": "probability", "order_mode": "DESC",
                               "page_size": filters.limit}, survey=classifier_survey(stamp_classifier))["items"]
    candidates = [Candidate(oid=i["oid"], ra=float(i["meanra"]), dec=float(i["meandec"]),
                            probability=float(i["probability"]), ndet=i.get("ndet"),
                            firstmjd=i.get("firstmjd"), sources=("api",))
                  for i in items if float(i.get("probability") or 0) >= filters.min_probability]

    def enrich(candidate: Candidate) -> Candidate:
        try:
            candidate.first_detection, candidate.host, candidate.stamp_probabilities = _details(api, candidate.oid)
        except AlerceApiError as exc:
            logger.warning("SN Hunter: no details for %s: %s", candidate.oid, exc)
        return candidate

    with ThreadPoolExecutor(max_workers=ENRICH_WORKERS) as pool:
        return list(pool.map(enrich, candidates))


def stamp_classifiers_asked(api: AlerceClient) -> list[str]:
    """ZTF's stamp classifier (every ALeRCE API has its route) and Rubin's where the broker lists
    it among its classifiers (a ZTF-only broker has no LSST routes, or nothing classified there)."""
    try:
        known = {row["classifier_name"] for row in cached_classifiers(api, classifier_cache_ttl_s())}
    except AlerceApiError:
        known = set()
    return [name for name in STAMP_CLASSIFIERS if name == STAMP_CLASSIFIER or name in known]


def tom_candidates(filters: HunterFilters, visible_targets) -> list[Candidate]:
    """Targets in the TOM whose stamp classification ranks SN first and whose first detection
    (else, without photometry, the classification's arrival) falls in the last hours; only
    targets in ``visible_targets`` (the user's, by the TOM's permissions) are considered."""
    since = timezone.now() - timedelta(hours=filters.hours)
    rows = list(TargetClassification.objects
                .filter(classifier_name__in=STAMP_CLASSIFIERS, class_name=SN_CLASS, ranking=1,
                        probability__gte=filters.min_probability, first_seen__gte=since,
                        target__in=visible_targets)
                .select_related("target").order_by("-probability")[:TOM_SCAN_LIMIT])
    ids = [r.target_id for r in rows]
    detections = (PhotometryReducedDatum.objects.filter(target_id__in=ids, brightness__isnull=False)
                  .order_by("target_id", "timestamp")
                  .values_list("target_id", "timestamp", "brightness", "brightness_error", "bandpass"))
    first: dict[int, dict] = {}
    for target_id, timestamp, magpsf, sigmapsf, band in detections:
        first.setdefault(target_id, {"mjd": datetime_to_mjd(timestamp), "magpsf": magpsf,
                                     "sigmapsf": sigmapsf, "band": band})
    counts = dict(PhotometryReducedDatum.objects.filter(target_id__in=ids, brightness__isnull=False)
                  .values_list("target_id").annotate(n=Count("id")).values_list("target_id", "n"))
    hosts: dict[int, dict] = {}
    for target_id, key, value in TargetExtra.objects.filter(target_id__in=ids, key__in=HOST_HINTS).values_list(
            "target_id", "key", "value"):
        hosts.setdefault(target_id, {})[key] = _number(value)
    stamp_probabilities: dict[int, dict[str, float]] = {}
    for target_id, class_name, probability in (TargetClassification.objects
                                               .filter(target_id__in=ids, classifier_name__in=STAMP_CLASSIFIERS)
                                               .order_by("target_id", "-classifier_version", "ranking")
                                               .values_list("target_id", "class_name", "probability")):
        stamp_probabilities.setdefault(target_id, {}).setdefault(class_name, probability)
    since_mjd = datetime_to_mjd(since)
    fresh = [r for r in rows if first.get(r.target_id, {}).get("mjd", since_mjd) >= since_mjd]
    return [Candidate(oid=r.target.name, ra=r.target.ra, dec=r.target.dec, probability=r.probability,
                      ndet=counts.get(r.target_id), firstmjd=first.get(r.target_id, {}).get("mjd"),
                      first_detection=first.get(r.target_id, {}), host=hosts.get(r.target_id, {}),
                      stamp_probabilities=stamp_probabilities.get(r.target_id, {}),
                      target_id=r.target_id, sources=("tom",)) for r in fresh[:filters.limit]]


def _number(value: str) -> float | str:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def merge_candidates(*lists: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per oid (the API's details, the TOM's target link), most probable first."""
    merged: dict[str, Candidate] = {}
    for candidate in (c for cands in lists for c in cands):
        seen = merged.get(candidate.oid)
        if seen is None:
            merged[candidate.oid] = candidate
            continue
        merged[candidate.oid] = replace(
            seen, target_id=seen.target_id or candidate.target_id,
            probability=max(seen.probability, candidate.probability),
            first_detection=seen.first_detection or candidate.first_detection,
            host={**candidate.host, **seen.host}, ndet=seen.ndet or candidate.ndet,
            stamp_probabilities=seen.stamp_probabilities or candidate.stamp_probabilities,
            sources=tuple(dict.fromkeys(seen.sources + candidate.sources)))
    return sorted(merged.values(), key=lambda c: -c.probability)


def apply_magnitude_cut(candidates: Iterable[Candidate], max_magnitude: float | None) -> list[Candidate]:
    """Keep candidates whose first detection is brighter than ``max_magnitude`` (unknown ones stay)."""
    if max_magnitude is None:
        return list(candidates)
    return [c for c in candidates if c.first_detection.get("magpsf") is None
            or c.first_detection["magpsf"] <= max_magnitude]


def hunt(api: AlerceClient | None, filters: HunterFilters, user) -> tuple[list[Candidate], str | None]:
    """Candidates from the API (when configured: each survey's route) and from the targets
    ``user`` may see in the TOM; an API failure is reported, not raised."""
    errors = []
    from_api: list[Candidate] = []
    for stamp_classifier in stamp_classifiers_asked(api) if api is not None else ():
        try:
            from_api += api_candidates(api, filters, stamp_classifier)
        except AlerceApiError as exc:
            logger.warning("SN Hunter: API unavailable for %s: %s", stamp_classifier, exc)
            errors.append(str(exc))
    visible = visible_targets(user)
    known = dict(visible.filter(name__in=[c.oid for c in from_api]).values_list("name", "id"))
    for candidate in from_api:
        candidate.target_id = known.get(candidate.oid)
    candidates = merge_candidates(from_api, tom_candidates(filters, visible))
    return apply_magnitude_cut(candidates, filters.max_magnitude)[:filters.limit], "; ".join(errors) or None
