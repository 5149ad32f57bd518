"""The TOM's 400 page says why: tomtoolkit's facility forms raise BadRequest with the reason
("Error loading LCO form: ConnectionError(...)" when the LCO portal cannot be reached), which
Django's default page drops for a bare "Bad Request (400)". Only BadRequest's own text is shown:
the other 400s (SuspiciousOperation and its kind) keep their reasons to the log."""
from __future__ import annotations

from django.core.exceptions import BadRequest
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


def bad_request(request, exception: Exception):
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    reason = str(exception) if type(exception) is BadRequest else ""
    return render(request, "example_tom/400.html", {"reason": reason, "back": back}, status=400)
