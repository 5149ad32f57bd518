from django.apps import AppConfig
from tom_dataservices.apps import TomDataservicesConfig


class AlerceBrokerPluginConfig(AppConfig):
    name = "alerce_broker_plugin"
    default = True  # the app's config; TomDataservices below is tom_dataservices' replacement
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from alerce_broker_plugin import checks  # noqa: F401 (registers the settings checks)

    def data_services(self) -> list[dict[str, str]]:
        """tom_dataservices integration point: this app's DataService."""
        return [{"class": f"{self.name}.dataservice.AlerceBrokerDataService"}]


class TomDataservices(TomDataservicesConfig):
    """tomtoolkit's data services as a TOM with this plugin offers them: in ``INSTALLED_APPS``
    in place of ``'tom_dataservices'`` (docs/install_into_a_tom.md).

    Less tomtoolkit's own ALeRCE service, which asks api.alerce.online for the classifiers as
    soon as its form is opened (an HTTP 500 offline): the ALeRCEBroker service reads the broker
    from ``DATA_SERVICES`` (self-hosted or api.alerce.online). The catalogue services (Simbad,
    TNS, NED, MPC Explorer) as ``upstream_services`` wraps them: a service that cannot be
    reached is a message on the query page, not a server error."""

    UPSTREAM_ALERCE = "tom_dataservices.data_services.alerce.AlerceDataService"

    def data_services(self) -> list[dict]:
        from alerce_broker_plugin.upstream_services import REPLACEMENTS

        return [{**service, "class": REPLACEMENTS.get(service["class"], service["class"])}
                for service in super().data_services() if service["class"] != self.UPSTREAM_ALERCE]
