"""tomtoolkit's catalogue services (Simbad, TNS, NED, MPC Explorer), a service they cannot reach
reported on the query page instead of an HTTP 500.

tomtoolkit's views show a ``QueryServiceError`` (and an HTTP error or a read timeout) with its
reason, but not a host that cannot be reached: requests' ``ConnectionError`` (TNS, NED and MPC
Explorer) and pyvo's ``DALServiceError`` (Simbad, whose constructor already asks SIMBAD's TAP
service for its fields, so the query view had no service to report with). Offline, as the
demo runs, each was a server error. A TOM registers these through
:class:`alerce_broker_plugin.apps.TomDataservices`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pyvo.dal import DALServiceError
from requests.exceptions import ConnectionError as RequestsConnectionError
from tom_dataservices.data_services.mpc import MPCExplorerDataService
from tom_dataservices.data_services.ned import NEDDataService
from tom_dataservices.data_services.simbad import SimbadDataService
from tom_dataservices.data_services.tns import TNSDataService
from tom_dataservices.dataservices import QueryServiceError

UNREACHABLE = (RequestsConnectionError, DALServiceError)
_URL = re.compile(r"https?://[^\s/:]+")


def unreachable_reason(service: str, exc: Exception) -> str:
    """Which service, and the host that did not answer (requests names the request; pyvo names
    the address in its message)."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or next(iter(_URL.findall(str(exc))), "")
    host = urlsplit(url).hostname
    detail = f"no connection to {host}" if host else str(exc).strip().splitlines()[0][:200]
    return f"{service} could not be reached from this TOM ({detail}). Is this machine offline?"


class ReportsUnreachable:
    """A DataService mixin: constructing it never fails for the network, and each query that
    cannot reach the service raises ``QueryServiceError`` saying which one and why."""

    name: str
    _unreachable: Exception | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except UNREACHABLE as exc:
            self._unreachable = exc

    def _reach(self, query: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._unreachable is not None:
            raise QueryServiceError(unreachable_reason(self.name, self._unreachable))
        try:
            return query(*args, **kwargs)
        except UNREACHABLE as exc:
            raise QueryServiceError(unreachable_reason(self.name, exc)) from exc

    def query_service(self, *args: Any, **kwargs: Any) -> Any:
        return self._reach(super().query_service, *args, **kwargs)

    def query_targets(self, *args: Any, **kwargs: Any) -> Any:
        return self._reach(super().query_targets, *args, **kwargs)

    def query_reduced_data(self, *args: Any, **kwargs: Any) -> Any:
        return self._reach(super().query_reduced_data, *args, **kwargs)

    def query_aliases(self, *args: Any, **kwargs: Any) -> Any:
        return self._reach(super().query_aliases, *args, **kwargs)


class Simbad(ReportsUnreachable, SimbadDataService):
    """tomtoolkit's Simbad service, unreachable SIMBAD reported."""


class TNS(ReportsUnreachable, TNSDataService):
    """tomtoolkit's TNS data service, an unreachable TNS reported."""


class NED(ReportsUnreachable, NEDDataService):
    """tomtoolkit's NED service, an unreachable NED reported."""


class MPCExplorer(ReportsUnreachable, MPCExplorerDataService):
    """tomtoolkit's MPC Explorer service, an unreachable Minor Planet Center reported."""


# tomtoolkit's class paths (tom_dataservices' AppConfig.data_services) -> the wrapped ones.
REPLACEMENTS = {f"{cls.__bases__[1].__module__}.{cls.__bases__[1].__name__}": f"{__name__}.{cls.__name__}"
                for cls in (Simbad, TNS, NED, MPCExplorer)}
