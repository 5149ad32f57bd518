"""The TOM's data product files (MEDIA_URL), each served to whoever may see its target.

Django serves MEDIA_URL only with DEBUG on (``static()`` in tom_common's URLs), and then to
anyone, so with the demo's DEBUG off every data product link (the broker's cutouts, uploaded
photometry) was a 404. This view is the TOM's way to its files: only the files of targets the
visitor may view, as TOM Toolkit's permissions decide (``visible_targets``; an anonymous visitor: open
targets only); anything else is a 404 that says nothing of whether the file exists. A
deployment that lets its web server send the files should keep the same check (e.g. nginx's
X-Accel-Redirect behind this view)."""
from __future__ import annotations

import mimetypes

from django.db.models import Q
from django.http import FileResponse, Http404
from django.views import View
from tom_dataproducts.models import DataProduct
from tom_targets.models import Target

from alerce_broker_plugin.permissions import visible_targets


class DataProductFileView(View):
    def get(self, request, path: str) -> FileResponse:
        product = DataProduct.objects.filter(Q(data=path) | Q(thumbnail=path)).first()
        if product is None or not visible_targets(request.user, Target.objects.filter(pk=product.target_id)).exists():
            raise Http404("no such data product file")
        field = product.data if product.data.name == path else product.thumbnail
        try:
            handle = field.open("rb")
        except FileNotFoundError as error:
            raise Http404("the data product's file is missing") from error
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(handle, content_type=content_type, filename=path.rsplit("/", 1)[-1])
