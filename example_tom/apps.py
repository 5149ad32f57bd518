from django.apps import AppConfig
from tom_dataservices.apps import TomDataservicesConfig


class ExampleTomConfig(AppConfig):
    name = "example_tom"


class DataservicesWithoutUpstreamAlerce(TomDataservicesConfig):
    """tomtoolkit's data services less its own ALeRCE one, which asks api.alerce.online for the
    classifiers as soon as its form is opened (an HTTP 500 offline). This TOM's ALeRCE is the
    ALeRCEBroker service, which reads the broker from ``DATA_SERVICES`` (ours or api.alerce.online)."""

    UPSTREAM_ALERCE = "tom_dataservices.data_services.alerce.AlerceDataService"

    def data_services(self) -> list[dict]:
        return [service for service in super().data_services() if service["class"] != self.UPSTREAM_ALERCE]
