"""tom_alerce pages: cutout PNGs, the SN Hunter (page + htmx list), target creation from it, and
"Check for new data" limited to the targets a user may change."""
from __future__ import annotations

import logging
from pathlib import Path

import plotly
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView
from tom_dataproducts.models import DataProduct
from tom_targets.models import Target

from alerce_broker_plugin.dataservice import AlerceBrokerDataService
from alerce_broker_plugin.ingest import discovery_stamp_candid
from alerce_broker_plugin.permissions import changeable_targets, import_refusal, visible_targets
from alerce_contract.client import AlerceApiError, AlerceClient, client_from_settings
from tom_alerce.forms import HunterForm
from tom_alerce.links import followup_url, tns_report_url
from tom_alerce.reduced_data import update_reduced_data
from tom_alerce.sn_hunter import hunt
from tom_alerce.stamps import KINDS, StampError, as_png
from tom_alerce.templatetags.alerce_extras import stamp_urls

logger = logging.getLogger(__name__)

STAMP_CACHE_S = 24 * 3600
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def plotly_js(request) -> FileResponse:
    """plotly.js from the installed plotly package, so it always matches the figures Python writes;
    tom_alerce's base page loads it once per page (see tom_alerce.offline)."""
    response = FileResponse(PLOTLY_JS.open("rb"), content_type="application/javascript")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _stamp_from_data_products(oid: str, kind: str, user) -> bytes | None:
    """The cutout the broker plugin saved as a data product of the target named ``oid``,
    when ``user`` may see that target."""
    visible = visible_targets(user, Target.objects.filter(name=oid))
    product = (DataProduct.objects.filter(target__in=visible)
               .filter(Q(product_id__icontains=kind) | Q(data__icontains=kind))
               .order_by("created").first())
    if product is None or not product.data:
        return None
    with product.data.open("rb") as stream:
        return stream.read()


def first_stamp_candid(api: AlerceClient, oid: str) -> str | None:
    """The candid of the object's discovery stamps (get_stamp needs one), cached."""
    key = f"tom_alerce:first_stamp_candid:{api.api_url}:{oid}"
    candid = cache.get(key)
    if candid is None:
        candid = discovery_stamp_candid(api.query_detections(oid))
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
            candidate.stamps = stamp_urls(candidate.oid, candidate.first_detection.get("stamp_candid"))
            candidate.actions = {
                "tns": tns_report_url(candidate.target_id) if candidate.target_id else None,
                "followup": followup_url(candidate.target_id) if candidate.target_id else None,
            }
        context.update(candidates=candidates, api_error=error, filters=filters, form=form)
        return context

    def render_to_response(self, context, **response_kwargs):
        """The page's address follows the filters (htmx's HX-Replace-Url): a list can be shared."""
        response = super().render_to_response(context, **response_kwargs)
        query = self.request.GET.urlencode()
        response["HX-Replace-Url"] = reverse("tom_alerce:sn-hunter") + (f"?{query}" if query else "")
        return response


class CreateTargetView(LoginRequiredMixin, View):
    """Create (or update) the target of an SN Hunter candidate by the data service's own import:
    the same extras, photometry, cutouts and classifications as Data Services -> Create Targets,
    so TNS reporting and follow-up have what they need."""

    def post(self, request):
        oid = request.POST.get("oid", "").strip()
        if not oid:
            return HttpResponseBadRequest("oid is required")
        service = AlerceBrokerDataService(user=request.user)
        try:
            obj = service.fetch_object(oid)
            refusal = import_refusal(obj, request.user)
            result = None if refusal else service.import_object(obj)
        except (AlerceApiError, ValueError) as exc:
            messages.error(request, f"{oid}: not imported ({exc})")
            return redirect(reverse("tom_alerce:sn-hunter"))
        if refusal:
            messages.error(request, refusal)
            return redirect(reverse("tom_alerce:sn-hunter"))
        if result.created:
            result.target.give_user_access(request.user)  # private by default: its creator must see it
        for warning in service.warnings.values():
            messages.warning(request, warning)
        messages.success(request, f"{'Created' if result.created else 'Updated'} target {result.target.name} "
                                  f"({len(result.new_photometry)} new photometry points)")
        return redirect(reverse("targets:detail", kwargs={"pk": result.target.pk}) + "?tab=alerce")


class CheckForNewDataView(LoginRequiredMixin, View):
    """tomtoolkit's "Check for new data", on POST only, asking the data services only for the
    targets the user may change (``target_id``, else all of them): tomtoolkit's view updated
    any target id it was given, or every target, for any logged-in user, on a GET, so that a
    link on another site could start imports. tom_alerce's photometry partial posts it with
    its CSRF token; it answers tomtoolkit's own URL (tom_alerce's paths come first); the update
    is tom_alerce's (tom_alerce.reduced_data, as its ``manage.py updatereduceddata``). Back to
    the page it was asked from, if that page is this TOM's."""

    def post(self, request, *args, **kwargs):
        target_id = request.POST.get("target_id")
        if target_id is not None and not target_id.isdigit():
            raise Http404(f"no target {target_id!r}")
        targets = Target.objects.all() if target_id is None else Target.objects.filter(pk=target_id)
        allowed = changeable_targets(request.user, targets)
        if target_id is not None and not allowed.exists():
            raise Http404(f"no target {target_id} that you may change")
        messages.info(request, update_reduced_data(allowed))
        back = request.META.get("HTTP_REFERER", "")  # the referring page, often with its ?tab=
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            back = reverse("targets:detail", kwargs={"pk": target_id}) if target_id else reverse("targets:list")
        return HttpResponseRedirect(back)
