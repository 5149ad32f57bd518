from django.apps import AppConfig
from tom_dataservices.apps import TomDataservicesConfig


class ExampleTomConfig(AppConfig):
    name = "example_tom"


class TomDataservices(TomDataservicesConfig):
    """tomtoolkit's data services as this TOM offers them.

    Less tomtoolkit's own ALeRCE service, which asks api.alerce.online for the classifiers as
    soon as its form is opened (an HTTP 500 offline): this TOM's ALeRCE is the ALeRCEBroker
    service, which reads the broker from ``DATA_SERVICES`` (ours or api.alerce.online). The
    catalogue services (Simbad, TNS, NED, MPC Explorer) as ``upstream_services`` wraps them: a
    service that cannot be reached is a message on the query page, not a server error."""

    UPSTREAM_ALERCE = "tom_dataservices.data_services.alerce.AlerceDataService"

    def data_services(self) -> list[dict]:
        from example_tom.upstream_services import REPLACEMENTS

        return [{**service, "class": REPLACEMENTS.get(service["class"], service["class"])}
                for service in super().data_services() if service["class"] != self.UPSTREAM_ALERCE]
