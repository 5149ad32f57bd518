"""The ALeRCE tab on the target page, as an inclusion tag so its work runs once per page.

tom_targets calls a tab's context function twice per page (tab titles and tab bodies), so
``alerce_tab_context`` only passes the target on; the work happens in ``alerce_target_panel``.
"""
from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from tom_common.templatetags.tom_common_extras import truncate_value_for_display
from tom_dataproducts.models import DataProduct
from tom_targets.models import TargetExtra

from alerce_contract.bands import BAND_OF_FID
from alerce_contract.client import AlerceApiError, client_from_settings
from alerce_contract.names import broker_name, survey_of_oid
from alerce_contract.taxonomy import (LC_BANDS, LC_CLASSIFIER_NAMES, LC_CLASSIFIERS, LC_GROUP_CLASSIFIERS,
                                      LC_MIN_DETECTIONS, LC_MIN_DETECTIONS_LSST, LC_TOP, LC_TOP_LSST, PERIODIC)
from tom_alerce.classifications import probabilities_by_classifier
from tom_alerce.links import api_object_url, explorer_url, tns_report_url, tns_url
from tom_alerce.photometry import target_photometry
from tom_alerce.plots import (PERIOD_FEATURE, Photometry, best_period, broker_period, classification_charts, figure_html, folded_figure,
                              lightcurve_figure, why_not_folded)
from tom_alerce.stamps import KINDS

register = template.Library()

CANDID_EXTRAS = ("first_candid", "candid")
BROKER_CACHE_S = 600
MAGSTAT_COLUMNS = (("ndet", "detections", 0), ("magfirst", "first", 2), ("maglast", "last", 2),
                   ("magmin", "brightest", 2), ("magmax", "faintest", 2), ("magmean", "mean", 2),
                   ("magmedian", "median", 2), ("magsigma", "σ", 2), ("firstmjd", "first MJD", 4),
                   ("lastmjd", "last MJD", 4))


def alerce_tab_context(context) -> dict:
    return {"target": context.get("target") or context.get("object")}


def broker_oid(target) -> str:
    """The name the broker knows the target by (see alerce_contract.names)."""
    return broker_name([target.name, *target.aliases.values_list("name", flat=True)])


def stamp_urls(oid: str, candid: str | int | None = None) -> dict[str, str]:
    query = "?" + urlencode({"candid": candid}) if candid else ""
    return {kind: reverse("tom_alerce:stamp", kwargs={"oid": oid, "kind": kind}) + query for kind in KINDS}


def broker_products(client, oid: str) -> dict:
    """The broker's magstats and features of ``oid`` (cached), or the reason they are missing."""
    key = f"tom_alerce:products:{client.api_url}:{oid}"
    products = cache.get(key)
    if products is None:
        try:
            products = {"magstats": client.query_magstats(oid), "features": client.query_features(oid), "error": ""}
        except AlerceApiError as exc:
            products = {"magstats": [], "features": [], "error": str(exc)}
        cache.set(key, products, 60 if products["error"] else BROKER_CACHE_S)
    return products


def magstats_table(rows: list[dict]) -> dict:
    """One row per statistic, one column per band (as ALeRCE's explorer lays it out, so it fits
    beside the plots); the apparent (_corr) statistics where any band has them."""
    statistics = list(MAGSTAT_COLUMNS)
    if any(row.get("magmean_corr") is not None for row in rows):
        statistics[6:6] = [("magmean_corr", "mean apparent", 2), ("magsigma_corr", "σ apparent", 2)]
    bands = sorted(rows, key=lambda r: r.get("fid") or 0)
    return {"bands": [BAND_OF_FID.get(row.get("fid"), str(row.get("fid"))) for row in bands],
            "rows": [{"statistic": title, "cells": [_fixed(row.get(name), digits) for row in bands]}
                     for name, title, digits in statistics]}


def _fixed(value, digits: int) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "–"


def period_of(features: list[dict], photometry: Photometry) -> tuple[float | None, str]:
    """(period in days, where it comes from): the broker's feature, else a periodogram here."""
    period = broker_period(features)
    if period:
        return period, f"the broker's {PERIOD_FEATURE} feature"
    period = best_period(photometry)
    return period, ("a Lomb–Scargle periodogram of this TOM's photometry" if period else "")


def periodic_class(grouped: dict) -> str | None:
    """The periodic class the tab shows ("LPV", ...; "Periodic" when only the group is known), or
    None when neither a hierarchy's top group nor a light-curve classifier's class is periodic.
    ZTF's hierarchy, charted first, wins over ``lc_classifier``; Rubin's class over its top group."""
    def order(item) -> tuple[bool, bool]:
        name = item[0][0]
        return name != LC_TOP, name == LC_TOP_LSST

    for (name, version), probabilities in sorted(grouped.items(), key=order):
        top = next(iter(probabilities), None)  # most probable first
        if name == LC_TOP and top == "Periodic":
            return next(iter(grouped.get((LC_GROUP_CLASSIFIERS["Periodic"], version), {})), "Periodic")
        if name in LC_CLASSIFIERS and top in PERIODIC:
            return top
        if name == LC_TOP_LSST and top == "Periodic":
            return "Periodic"
    return None


def foldable_periodic_stars(api, limit: int = 50) -> Iterator[str]:
    """The broker's periodic stars, most detections first, that this tab folds (the tour and
    the browser test pick one): its periodic class and the broker's period, by the tab's rules.
    ``api`` is an ``AlerceClient``."""
    page = api.query_objects({"classifier": LC_TOP, "class": "Periodic", "ranking": 1, "order_by": "ndet",
                              "order_mode": "DESC", "page_size": limit})
    for item in page["items"]:
        oid = item["oid"]
        grouped = probabilities_by_classifier(SimpleNamespace(**row) for row in api.query_probabilities(oid))
        period = broker_period(api.query_features(oid))
        mjd = [d["mjd"] for d in api.query_detections(oid)]
        shown = periodic_class(grouped)
        if shown and period and mjd and not why_not_folded(period, shown, max(mjd) - min(mjd)):
            yield oid


def no_lc_class_reason(grouped: dict, photometry: Photometry, survey: str | None) -> str:
    """Why there is no light-curve class yet ("" when there is one), by the rule of the
    survey's own light-curve classifier."""
    if any(name in LC_CLASSIFIER_NAMES for name, _ in grouped):
        return ""
    if survey == "LSST":
        total = photometry.detections_in()
        if total < LC_MIN_DETECTIONS_LSST:
            return (f"No light-curve class yet: Rubin's light-curve classifier needs at least "
                    f"{LC_MIN_DETECTIONS_LSST} detections in its bands together, and this object has "
                    f"{total}. Until then only the stamp classifier, from the first alert's cutouts, "
                    f"classifies it.")
        counts = f"{total} detections"
    else:
        counts = " and ".join(f"{photometry.detections_in(b)} in {b}" for b in LC_BANDS)
        if all(photometry.detections_in(b) < LC_MIN_DETECTIONS for b in LC_BANDS):
            return (f"No light-curve class yet: the light-curve classifier needs at least {LC_MIN_DETECTIONS} "
                    f"detections in g or in r, and this object has {counts}. Until then only the stamp "
                    f"classifier, from the first alert's cutouts, classifies it.")
    return (f"No light-curve class from the broker yet, although the object has enough detections ({counts}): "
            f"the broker has not classified its light curve since it had them.")


def cutouts_caption(target, oid: str, candid) -> str:
    """Which alert the cutouts on the page come from: the TOM's stored one, else the broker's."""
    product = (DataProduct.objects.filter(target=target, product_id__endswith=f"_{KINDS[0]}")
               .order_by("created").values_list("product_id", flat=True).first())
    stored = product.split("_")[-2] if product and product.count("_") >= 2 else None
    if stored:
        return f"Cutouts of alert {stored}, stored in this TOM"
    if candid:
        return f"Cutouts of alert {candid}, from the broker"
    return "Cutouts of the broker's first alert of this object that carried cutouts"


@register.inclusion_tag("tom_alerce/partials/target_panel.html")
def alerce_target_panel(target) -> dict:
    oid = broker_oid(target)
    api = client_from_settings(settings)
    grouped = probabilities_by_classifier(target.alerce_classifications.all())
    charts = [(c.title, figure_html(c.figure)) for c in classification_charts(grouped)]
    photometry = target_photometry(target)
    lightcurve = figure_html(lightcurve_figure(photometry, oid)) if len(photometry.mjd) else None
    candid = next(iter(TargetExtra.objects.filter(target=target, key__in=CANDID_EXTRAS)
                       .values_list("value", flat=True)), None)
    products = broker_products(api, oid)
    periodic, period, period_source, folded, not_folded = periodic_class(grouped), None, "", None, ""
    if periodic:
        period, period_source = period_of(products["features"], photometry)
        if period:
            not_folded = why_not_folded(period, periodic, photometry.detection_baseline())
        if period and not not_folded:
            folded = figure_html(folded_figure(photometry, period, f"{oid} folded on P = {period:.5f} d"))
    return {
        "target": target, "oid": oid, "charts": charts, "lightcurve": lightcurve,
        "n_points": len(photometry.mjd), "stamps": stamp_urls(oid, candid),
        "cutouts_caption": cutouts_caption(target, oid, candid),
        "no_lc_class": no_lc_class_reason(grouped, photometry, survey_of_oid(oid)),
        "magstats": magstats_table(products["magstats"]) if products["magstats"] else None,
        "broker_error": products["error"],
        "periodic": periodic, "period": period, "period_source": period_source, "folded": folded,
        "not_folded": not_folded,
        "api_url": api_object_url(api, oid), "explorer_url": explorer_url(api, oid),
        "tns_url": tns_url([target.name, *target.aliases.values_list("name", flat=True)], target.ra, target.dec),
        "tns_report_url": tns_report_url(target.pk),
        "history": target.alerce_classification_history.all()[:10],
    }


@register.filter
def percent(value) -> str:
    try:
        return f"{100 * float(value):.0f}%"
    except (TypeError, ValueError):
        return ""


@register.filter
def display_value(value, key: str = "") -> str:
    """A TargetExtra as a person reads it: probabilities to 2 decimals, MJDs to 4, the rest
    as tomtoolkit shortens it."""
    digits = 2 if str(key).endswith("probability") else 4 if str(key).endswith("mjd") else None
    if digits is not None:
        try:
            return f"{float(value):.{digits}f}"
        except (TypeError, ValueError):
            pass
    return truncate_value_for_display(value)


@register.filter
def extra_label(key: str) -> str:
    """A TargetExtra key as a label that wraps between words: "stamp classifier probability"."""
    return str(key).replace("_", " ")
