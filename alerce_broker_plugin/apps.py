from django.apps import AppConfig


class AlerceBrokerPluginConfig(AppConfig):
    name = "alerce_broker_plugin"
    default_auto_field = "django.db.models.AutoField"

    def data_services(self) -> list[dict[str, str]]:
        """tom_dataservices integration point: this app's DataService."""
        return [{"class": f"{self.name}.dataservice.AlerceBrokerDataService"}]
