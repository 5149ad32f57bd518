"""tom_alerce pages: cutout PNGs, the SN Hunter (page + htmx list), and target creation from it."""
from __future__ import annotations

import logging
from pathlib import Path

import plotly
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from tom_dataproducts.models import DataProduct
from tom_targets.models import Target
from tom_targets.permissions import targets_for_user

from alerce_contract.classifications import classifications_from_probabilities
from alerce_contract.client import AlerceApiError, AlerceClient, client_from_settings
from tom_alerce.classifications import record_classifications
from tom_alerce.forms import HunterForm
from tom_alerce.links import followup_url, tns_report_url
from tom_alerce.sn_hunter import hunt
from tom_alerce.stamps import KINDS, StampError, as_png
from tom_alerce.templatetags.alerce_extras import stamp_urls

logger = logging.getLogger(__name__)

STAMP_CACHE_S = 24 * 3600
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def plotly_js(request) -> FileResponse:
    """plotly.js from the installed plotly package (the TOM's own plots embed it inline instead)."""
    response = FileResponse(PLOTLY_JS.open("rb"), content_type="application/javascript")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _stamp_from_data_products(oid: str, kind: str, user) -> bytes | None:
    """The cutout the broker plugin saved as a data product of the target named ``oid``,
    when ``user`` may see that target."""
    visible = targets_for_user(user, Target.objects.filter(name=oid), "view_target")
    product = (DataProduct.objects.filter(target__in=visible)
               .filter(Q(product_id__icontains=kind) | Q(data__icontains=kind))
               .order_by("created").first())
    if product is None or not product.data:
        return None
    with product.data.open("rb") as stream:
        return stream.read()


def first_stamp_candid(api: AlerceClient, oid: str) -> str | None:
    """The candid of the object's first detection that came with cutouts (get_stamp needs one)."""
    key = f"tom_alerce:first_stamp_candid:{api.api_url}:{oid}"
    candid = cache.get(key)
    if candid is None:
        detections = [d for d in api.query_detections(oid) if d.get("candid") is not None]
        with_stamps = [d for d in detections if d.get("has_stamp")] or detections
        candid = str(min(with_stamps, key=lambda d: d["mjd"])["candid"]) if with_stamps else None
        cache.set(key, candid, STAMP_CACHE_S)
    return candid


class StampView(View):
    """A cutout as PNG: the TOM's data product when the user may see one, else the configured
    API's get_stamp (public data, so those are cached for everyone)."""

    def get(self, request, oid: str, kind: str):
        if kind not in KINDS:
            raise Http404(f"unknown cutout kind {kind!r}")
        candid = request.GET.get("candid") or None
        try:
            png = self._from_tom(oid, kind, request.user) or self._from_api(oid, kind, candid)
        except (AlerceApiError, StampError, OSError) as exc:
            logger.info("no %s cutout for %s: %s", kind, oid, exc)
            raise Http404(f"no {kind} cutout for {oid}") from exc
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = f"private, max-age={STAMP_CACHE_S}"
        return response

    @staticmethod
    def _from_tom(oid: str, kind: str, user) -> bytes | None:
        data = _stamp_from_data_products(oid, kind, user)
        return None if data is None else as_png(data)

    @staticmethod
    def _from_api(oid: str, kind: str, candid: str | None) -> bytes:
        key = f"tom_alerce:stamp:{oid}:{candid}:{kind}"
        png = cache.get(key)
        if png is None:
            api = client_from_settings(settings)
            png = as_png(api.get_stamp(oid, candid or first_stamp_candid(api, oid), kind, fmt="fits"))
            cache.set(key, png, STAMP_CACHE_S)
        return png


class SNHunterView(TemplateView):
    """The page: filters at once, the candidate list loads (and refreshes) through htmx."""

    template_name = "tom_alerce/sn_hunter.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = HunterForm(self.request.GET or None)
        context["query"] = self.request.GET.urlencode()
        return context


class SNHunterCandidatesView(TemplateView):
    """The candidate list partial (what the page's htmx refresh swaps in)."""

    template_name = "tom_alerce/partials/sn_candidates.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = HunterForm(self.request.GET or None)
        filters = form.filters()
        candidates, error = hunt(client_from_settings(settings), filters, self.request.user)
        for candidate in candidates:
            candidate.stamps = stamp_urls(candidate.oid, candidate.first_detection.get("candid"))
            candidate.actions = {
                "tns": tns_report_url(candidate.target_id) if candidate.target_id else None,
                "followup": followup_url(candidate.target_id) if candidate.target_id else None,
            }
        context.update(candidates=candidates, api_error=error, filters=filters, form=form)
        return context


class CreateTargetView(LoginRequiredMixin, View):
    """Create (or find) the target of an SN Hunter candidate and store its classifications."""

    def post(self, request):
        try:
            oid = request.POST["oid"].strip()
            ra, dec = float(request.POST["ra"]), float(request.POST["dec"])
        except (KeyError, ValueError):
            return HttpResponseBadRequest("oid, ra and dec are required")
        if not oid:
            return HttpResponseBadRequest("oid is empty")
        target, created = Target.objects.get_or_create(
            name=oid, defaults={"type": Target.SIDEREAL, "ra": ra, "dec": dec, "epoch": 2000.0})
        if created:
            target.give_user_access(request.user)  # private by default: its creator must see it
        api = client_from_settings(settings)
        try:
            record_classifications(target, classifications_from_probabilities(api.query_probabilities(oid)),
                                   source=f"{api.api_url} (SN Hunter)")
        except (AlerceApiError, KeyError, TypeError, ValueError) as exc:
            messages.warning(request, f"{oid}: classifications not imported ({exc})")
        messages.success(request, f"{'Created' if created else 'Opened'} target {oid}")
        return redirect(reverse("targets:detail", kwargs={"pk": target.pk}) + "?tab=alerce")
