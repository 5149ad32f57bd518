"""The TOM's 400 page says why: tomtoolkit's facility forms raise BadRequest with the reason
("Error loading LCO form: ConnectionError(...)" when the LCO portal cannot be reached), which
Django's default page drops for a bare "Bad Request (400)". A portal that cannot be reached is
said as the data services say it ("LCO could not be reached from this TOM (no connection to
observe.lco.global). ..."), not as the exception's repr. Only BadRequest's own text is shown:
the other 400s (SuspiciousOperation and its kind) keep their reasons to the log."""
from __future__ import annotations

import re

from django.core.exceptions import BadRequest
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from alerce_broker_plugin.upstream_services import UNREACHABLE, unreachable_reason

_FORM = re.compile(r"Error loading (.+?) form:")


def bad_request(request, exception: Exception):
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    reason = str(exception) if type(exception) is BadRequest else ""
    facility = _FORM.match(reason)
    if facility and isinstance(exception.__context__, UNREACHABLE):  # tomtoolkit raised it handling this
        reason = unreachable_reason(facility.group(1), exception.__context__)
    return render(request, "example_tom/400.html", {"reason": reason, "back": back}, status=400)
