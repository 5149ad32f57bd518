"""Broker records to TOM models: the one mapping shared by the DataService and the listener.

Both the HTTP API (ALeRCE JSON) and the classified Kafka stream are first turned into a
:class:`BrokerObject`; everything after that (target, extras, photometry, classifications,
cutouts) is written by the functions below, so the two ways in store the same thing.
Every write is idempotent: ingesting the same record twice changes nothing.
"""
from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from tom_dataproducts.models import DataProduct, PhotometryReducedDatum
from tom_targets.models import Target, TargetName

from alerce_contract.bands import BAND_OF_FID
from alerce_contract.classifications import classifications_from_probabilities, top_classes
from alerce_contract.mjd import mjd_to_datetime

log = logging.getLogger(__name__)

# survey -> (telescope, instrument) of its photometry
FACILITIES = {"ZTF": ("P48", "ZTF"), "LSST": ("Rubin", "LSSTCam")}
FORCED_REDUCTION = "forced_photometry"  # reduction_version that keeps forced points apart
SUMMARY_FIELDS = ("ndet", "firstmjd", "lastmjd")
PLACEHOLDER_MAG = 99.0  # ALeRCE writes mag = e_mag = 100 for forced epochs with no usable flux
MATCH_RADIUS_ARCSEC = 1.5  # ZTF's own association radius: closer than this is the same object


@dataclass(slots=True)
class BrokerObject:
    """One object as a broker describes it, whatever the channel it came through."""

    oid: str
    ra: float
    dec: float
    survey: str = "ZTF"
    ndet: int | None = None
    firstmjd: float | None = None
    lastmjd: float | None = None
    # {classifier_name: {"version": str, "probabilities": {class_name: float}}}
    classifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    detections: list[dict[str, Any]] = field(default_factory=list)  # mjd, fid, magpsf, sigmapsf, ...
    non_detections: list[dict[str, Any]] = field(default_factory=list)  # mjd, fid, diffmaglim
    forced_photometry: list[dict[str, Any]] = field(default_factory=list)  # mjd, fid, mag, e_mag, ...
    stamp_candid: str | None = None  # the alert whose cutouts ``cutouts`` holds
    cutouts: dict[str, bytes] = field(default_factory=dict)  # stamp type -> PNG


@dataclass(slots=True)
class IngestResult:
    target: Target
    created: bool
    changed: bool  # anything new: the target, an extra, a datum, a cutout or a classification
    new_photometry: list[PhotometryReducedDatum] = field(default_factory=list)


# --- Records in ---------------------------------------------------------------------------

def object_from_api(item: dict[str, Any], lightcurve: dict[str, Any], probabilities: list[dict[str, Any]],
                    forced_photometry: list[dict[str, Any]] | None = None) -> BrokerObject:
    """An ``/objects`` item (or single object) with its light curve and probabilities."""
    try:
        return BrokerObject(
            oid=str(item["oid"]), ra=float(item["meanra"]), dec=float(item["meandec"]),
            survey=str(item.get("survey") or "ZTF").upper(),
            ndet=_int_or_none(item.get("ndet")),
            firstmjd=_float_or_none(item.get("firstmjd")), lastmjd=_float_or_none(item.get("lastmjd")),
            classifications=classifications_from_probabilities(probabilities),
            detections=list(lightcurve.get("detections") or []),
            non_detections=list(lightcurve.get("non_detections") or []),
            forced_photometry=list(forced_photometry or []),
            stamp_candid=discovery_stamp_candid(lightcurve.get("detections") or []),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an ALeRCE object record ({type(exc).__name__}: {exc}): {item!r:.200}") from exc


def object_from_stream(message: dict[str, Any]) -> BrokerObject:
    """A decoded classified-stream message (``decode_classified``) to a BrokerObject.

    The alert's own detection is always kept, also when the producer sent no light curve.
    """
    try:
        detections = list(message.get("detections") or [])
        if not any(det.get("candid") == message["candid"] for det in detections):
            detections.append({key: message[key] for key in ("candid", "mjd", "fid", "magpsf", "sigmapsf")})
        return BrokerObject(
            oid=str(message["objectId"]), ra=float(message["ra"]), dec=float(message["dec"]),
            survey=str(message.get("survey") or "ZTF").upper(),
            ndet=_int_or_none(message.get("ndet")),
            firstmjd=_float_or_none(message.get("firstmjd")), lastmjd=_float_or_none(message.get("lastmjd")),
            classifications=dict(message.get("classifications") or {}),
            detections=detections,
            non_detections=list(message.get("non_detections") or []),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a classified-alert message ({type(exc).__name__}: {exc})") from exc


# --- What a target gets -------------------------------------------------------------------

def target_extras(obj: BrokerObject) -> dict[str, str]:
    """The object summary and each classifier's top class and probability, as TargetExtras."""
    extras = {"survey": obj.survey}
    for name in SUMMARY_FIELDS:
        value = getattr(obj, name)
        if value is not None:
            extras[name] = _text(value)
    for classifier_name, (class_name, probability) in top_classes(obj.classifications).items():
        extras[f"{classifier_name}_class"] = class_name
        extras[f"{classifier_name}_probability"] = _text(round(probability, 4))
    return extras


def discovery_stamp_candid(detections: list[dict[str, Any]]) -> str | None:
    """The candid of the first detection that came with cutouts (ALeRCE's ``has_stamp``): the
    discovery stamps, which ALeRCE's explorer shows and which a self-hosted store keeps."""
    with_stamps = [det for det in detections if det.get("has_stamp") and det.get("candid") is not None]
    if not with_stamps:
        return None
    return str(min(with_stamps, key=lambda det: (det["mjd"], int(det["candid"])))["candid"])


def find_target(oid: str, ra: float | None = None, dec: float | None = None) -> Target | None:
    """The target named ``oid``, carrying it as an alias, or (given ra, dec) at the same place.

    The position match keeps a target the TOM already knows under another name (a TNS
    designation, say) from being duplicated when the broker reports it.
    """
    target = Target.objects.filter(name=oid).first()
    if target is None:
        alias = TargetName.objects.filter(name=oid).select_related("target").first()
        target = alias.target if alias else None
    if target is None and ra is not None and dec is not None:
        target = Target.matches.match_cone_search(ra, dec, MATCH_RADIUS_ARCSEC).order_by("separation").first()
    return target


def upsert_target(obj: BrokerObject) -> tuple[Target, bool, bool]:
    """Create or update the object's target; (target, created, changed). Saves only on change.

    ``Target.save`` runs the TOM's ``target_post_save`` hook, so hooks fire exactly when
    something about the target changed.
    """
    extras = target_extras(obj)
    target = find_target(obj.oid, obj.ra, obj.dec)
    if target is None:
        target = Target(name=obj.oid, type=Target.SIDEREAL, ra=obj.ra, dec=obj.dec, epoch=2000.0)
        target.save(extras=extras)
        return target, True, True
    current = dict(target.targetextra_set.values_list("key", "value"))
    changed_extras = {key: value for key, value in extras.items() if current.get(key) != value}
    new_names = [] if obj.oid in target.names else [obj.oid]
    if changed_extras or new_names:
        target.save(extras=changed_extras, names=new_names)
    return target, False, bool(changed_extras or new_names)


def photometry_rows(obj: BrokerObject) -> list[dict[str, Any]]:
    """PhotometryReducedDatum fields for every detection, upper limit and forced point, in AB
    magnitudes with the band's name (ZTF g r i, Rubin u g r i z y) and the survey's telescope.

    Rows without a finite magnitude (or limit), or with an unknown filter, are left out.
    """
    telescope, instrument = FACILITIES.get(obj.survey, (obj.survey, obj.survey))
    row = functools.partial(_row, telescope=telescope, instrument=instrument)
    rows = []
    for det in obj.detections:
        if _finite(det.get("magpsf")) and det.get("fid") in BAND_OF_FID:
            extra = {key: det[key] for key in ("candid", "magpsf_corr", "sigmapsf_corr", "isdiffpos")
                     if det.get(key) is not None}
            rows.append(row(det["mjd"], det["fid"], brightness=det["magpsf"],
                            brightness_error=det.get("sigmapsf"), value=extra))
    for nd in obj.non_detections:
        if _finite(nd.get("diffmaglim")) and nd.get("fid") in BAND_OF_FID:
            rows.append(row(nd["mjd"], nd["fid"], limit=nd["diffmaglim"]))
    for fp in obj.forced_photometry:
        if _finite(fp.get("mag")) and float(fp["mag"]) < PLACEHOLDER_MAG and fp.get("fid") in BAND_OF_FID:
            rows.append(row(fp["mjd"], fp["fid"], brightness=fp["mag"], brightness_error=fp.get("e_mag"),
                            reduction_version=FORCED_REDUCTION))
    return rows


def ingest_photometry(target: Target, obj: BrokerObject, source_name: str,
                      source_location: str = "") -> list[PhotometryReducedDatum]:
    """Store the rows the target does not have yet; return the new data.

    ``source_name`` is the DataService name, so ``updatereduceddata`` knows whom to ask.
    """
    existing = set(PhotometryReducedDatum.objects.filter(target=target).values_list(
        "bandpass", "timestamp", "brightness", "limit", "reduction_version"))
    new = []
    for row in photometry_rows(obj):
        key = (row["bandpass"], row["timestamp"], row["brightness"], row["limit"], row["reduction_version"])
        if key not in existing:
            existing.add(key)
            new.append(PhotometryReducedDatum(target=target, source_name=source_name,
                                              source_location=source_location[:200], **row))
    PhotometryReducedDatum.objects.bulk_create(new)
    return new


def ingest_classifications(target: Target, classifications: dict[str, dict[str, Any]], source: str) -> bool:
    """Record every classifier's full probabilities through ``tom_alerce``; True if anything changed.

    ``tom_alerce`` keeps the history; without it the top-class extras are all that is kept.
    """
    if not classifications:
        return False
    try:
        from tom_alerce.classifications import record_classifications
    except ImportError:
        log.warning("tom_alerce.classifications is not installed: only the top classes of %s are kept",
                    target.name)
        return False
    return bool(record_classifications(target, classifications, source=source))


def cutout_product_id(oid: str, candid: int | str, stamp_type: str) -> str:
    return f"{oid}_{candid}_{stamp_type}"


def missing_cutouts(oid: str, candid: int | str, stamp_types: tuple[str, ...]) -> list[str]:
    """The stamp types of this alert that are not stored yet (so they are fetched once)."""
    stored = set(DataProduct.objects.filter(
        product_id__in=[cutout_product_id(oid, candid, kind) for kind in stamp_types]
    ).values_list("product_id", flat=True))
    return [kind for kind in stamp_types if cutout_product_id(oid, candid, kind) not in stored]


def ingest_cutouts(target: Target, oid: str, candid: int | str, pngs: Mapping[str, bytes]) -> list[DataProduct]:
    """Store each PNG stamp not stored yet as an ``image_file`` DataProduct; return the new ones."""
    products = []
    for stamp_type, png in pngs.items():
        product_id = cutout_product_id(oid, candid, stamp_type)
        product, created = DataProduct.objects.get_or_create(
            product_id=product_id, defaults={"target": target, "data_product_type": "image_file"})
        if created:
            product.data.save(f"{product_id}.png", ContentFile(png), save=True)
            products.append(product)
    return products


def ingest_object(obj: BrokerObject, source_name: str, source_location: str = "") -> IngestResult:
    """Target, extras, aliases, photometry, cutouts and classifications of one record, atomically."""
    with transaction.atomic():
        target, created, changed = upsert_target(obj)
        new_data = ingest_photometry(target, obj, source_name, source_location)
        new_cutouts = ingest_cutouts(target, obj.oid, obj.stamp_candid, obj.cutouts) if obj.cutouts else []
        reclassified = ingest_classifications(target, obj.classifications, source=source_name)
    return IngestResult(target=target, created=created, new_photometry=new_data,
                        changed=changed or bool(new_data) or bool(new_cutouts) or reclassified)


# --- Helpers ------------------------------------------------------------------------------

def _row(mjd: float, fid: int, *, telescope: str, instrument: str, brightness: float | None = None,
         brightness_error: float | None = None, limit: float | None = None, reduction_version: str = "",
         value: dict | None = None) -> dict[str, Any]:
    return {
        "timestamp": mjd_to_datetime(mjd), "bandpass": BAND_OF_FID[fid], "unit": "mag",
        "brightness": _float_or_none(brightness), "brightness_error": _float_or_none(brightness_error),
        "limit": _float_or_none(limit), "telescope": telescope, "instrument": instrument,
        "reduction_version": reduction_version, "value": {"mjd": float(mjd), "fid": int(fid), **(value or {})},
    }


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _float_or_none(value: Any) -> float | None:
    return float(value) if _finite(value) else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _text(value: Any) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
