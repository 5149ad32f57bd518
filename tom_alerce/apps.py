from django.apps import AppConfig


class TomAlerceConfig(AppConfig):
    name = "tom_alerce"
    default_auto_field = "django.db.models.AutoField"
