from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "facilities"
    default_auto_field = "django.db.models.AutoField"
