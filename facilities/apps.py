from collections.abc import Callable

from django.apps import AppConfig
from django.core.exceptions import ValidationError
from django.urls import include, path

from alerce_contract.sky import coordinate_problem


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
    """Give the TOM's Target model's ra and dec the sky's ranges (alerce_contract.sky:
    0 <= ra < 360, -90 <= dec <= 90).

    tomtoolkit's Target accepts any float, and one target at ra=400 makes every page that
    draws or reports it (visibility, airmass, TNS) fail. As model validators they reach the
    API's serializer (a 400 that names the field), the TOM's forms and ``full_clean``. They
    change no column, so the fields' ``deconstruct`` leaves them out: ``makemigrations`` in a TOM
    with these apps must not write a migration into tomtoolkit's installed tom_targets.
    """
    from tom_targets.models import Target

    for name, validator in (("ra", validate_ra), ("dec", validate_dec)):
        field = Target._meta.get_field(name)
        if validator not in field._validators:
            field._validators = [*field._validators, validator]
            field.__dict__.pop("validators", None)  # a cached_property: recompute with ours
            field.deconstruct = _without_validator(field.deconstruct, validator)


def _without_validator(deconstruct: Callable[[], tuple], validator: Callable) -> Callable[[], tuple]:
    """A field's ``deconstruct`` (what migrations compare) as if ``validator`` had not been added."""

    def deconstructed() -> tuple:
        name, path, args, kwargs = deconstruct()
        kept = [v for v in kwargs.pop("validators", []) if v is not validator]
        return name, path, args, {**kwargs, "validators": kept} if kept else kwargs

    return deconstructed


def validate_ra(value) -> None:
    """A Target's ra on the sky, else a ValidationError saying which range (Django skips None)."""
    _refuse(coordinate_problem("ra", value))


def validate_dec(value) -> None:
    """A Target's dec on the sky, else a ValidationError saying which range (Django skips None)."""
    _refuse(coordinate_problem("dec", value))


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise ValidationError(problem, code="sky")
