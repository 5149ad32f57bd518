"""Links out of the TOM (broker API, explorer, TNS) and into optional apps (facilities)."""
from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from alerce_contract.client import AlerceClient

EXPLORER_URL = "https://alerce.online/object/{oid}"
TNS_OBJECT_URL = "https://www.wis-tns.org/object/{name}"
TNS_CONE_URL = "https://www.wis-tns.org/search"
TNS_PREFIXES = ("AT", "SN", "TDE", "FRB")


def optional_reverse(names: Sequence[str], **kwargs) -> str | None:
    """The first of ``names`` that reverses, or None: the facilities app may not be installed yet."""
    for name in names:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def tns_report_url(target_id: int) -> str | None:
    return optional_reverse(["facilities:tns-report", "facilities:tns_report", "tns:report",
                             "facilities:report"], pk=target_id)


def followup_url(target_id: int) -> str:
    url = optional_reverse(["facilities:followup-request", "facilities:followup_request",
                            "facilities:followup"], pk=target_id)
    return url or reverse("targets:detail", kwargs={"pk": target_id}) + "?tab=observe"


def api_object_url(api: AlerceClient, oid: str) -> str:
    return api.object_url(oid)


def explorer_url(api: AlerceClient, oid: str) -> str | None:
    """ALeRCE's explorer only knows objects of the public API."""
    return EXPLORER_URL.format(oid=oid) if api.config.is_public else None


def tns_url(names: Sequence[str], ra: float | None, dec: float | None, radius_arcsec: float = 5.0) -> str | None:
    """The TNS object page when the target has a TNS name (e.g. "SN 2024abc"), else a cone search."""
    for name in names:
        parts = name.replace("_", " ").split()
        if len(parts) == 2 and parts[0].upper() in TNS_PREFIXES:
            return TNS_OBJECT_URL.format(name=parts[1])
    if ra is None or dec is None:
        return None
    return TNS_CONE_URL + "?" + urlencode({"ra": f"{ra:.6f}", "decl": f"{dec:.6f}",
                                          "radius": radius_arcsec, "coords_unit": "arcsec"})
