from django.apps import AppConfig


class AlerceBrokerPluginConfig(AppConfig):
    name = "alerce_broker_plugin"
    default_auto_field = "django.db.models.AutoField"
