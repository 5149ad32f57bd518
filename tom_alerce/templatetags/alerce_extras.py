"""The ALeRCE tab on the target page, as an inclusion tag so its work runs once per page.

tom_targets calls a tab's context function twice per page (tab titles and tab bodies), so
``alerce_tab_context`` only passes the target on; the work happens in ``alerce_target_panel``.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse
from tom_targets.models import TargetExtra

from alerce_contract.client import client_from_settings
from alerce_contract.names import broker_name
from tom_alerce.classifications import probabilities_by_classifier
from tom_alerce.links import api_object_url, explorer_url, tns_report_url, tns_url
from tom_alerce.photometry import target_photometry
from tom_alerce.plots import classification_charts, figure_html, lightcurve_figure
from tom_alerce.stamps import KINDS

register = template.Library()

CANDID_EXTRAS = ("first_candid", "candid")


def alerce_tab_context(context) -> dict:
    return {"target": context.get("target") or context.get("object")}


def broker_oid(target) -> str:
    """The name the broker knows the target by (see alerce_contract.names)."""
    return broker_name([target.name, *target.aliases.values_list("name", flat=True)])


def stamp_urls(oid: str, candid: str | int | None = None) -> dict[str, str]:
    query = "?" + urlencode({"candid": candid}) if candid else ""
    return {kind: reverse("tom_alerce:stamp", kwargs={"oid": oid, "kind": kind}) + query for kind in KINDS}


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
    return {
        "target": target, "oid": oid, "charts": charts, "lightcurve": lightcurve,
        "n_points": len(photometry.mjd), "stamps": stamp_urls(oid, candid),
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
