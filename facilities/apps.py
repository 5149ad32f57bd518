from django.apps import AppConfig
from django.urls import include, path


class FacilitiesConfig(AppConfig):
    """Plugs TNS reporting and follow-up rules into a TOM through tomtoolkit's AppConfig integration points."""

    name = "facilities"
    verbose_name = "TNS reports and follow-up"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        require_sky_coordinates()

    def include_url_paths(self):
        return [path("facilities/", include("facilities.urls", namespace="facilities"))]

    def nav_items(self):
        return [{"partial": "facilities/partials/navbar_links.html"}]

    def target_detail_tabs(self):
        return [{"partial": "facilities/partials/tns_tab.html", "context": "facilities.views.tns_tab_context",
                 "label": "TNS"}]


def require_sky_coordinates() -> None:
    """Give the TOM's Target model's ra and dec their sky ranges (0 <= ra <= 360, -90 <= dec <= 90).

    tomtoolkit's Target accepts any float, and one target at ra=400 makes every page that
    draws or reports it (visibility, airmass, TNS) fail. As model validators they reach the
    API's serializer (a 400 that names the field), the TOM's forms and ``full_clean``.
    """
    from django.core.validators import MaxValueValidator, MinValueValidator
    from tom_targets.models import Target

    for name, low, high in (("ra", 0.0, 360.0), ("dec", -90.0, 90.0)):
        field = Target._meta.get_field(name)
        if not any(isinstance(v, MinValueValidator) for v in field._validators):
            field._validators = [*field._validators, MinValueValidator(low), MaxValueValidator(high)]
            field.__dict__.pop("validators", None)  # a cached_property: recompute with ours

