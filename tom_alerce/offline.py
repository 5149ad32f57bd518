"""A TOM whose pages fetch nothing from the internet: plotly.js once per page, no CDN scripts.

tom_alerce's templates override tomtoolkit's base page and the partials that load AlpineJS,
Aladin Lite, JS9 and js-base64 from CDNs (see templates/tom_common, tom_targets, tom_dataproducts).
They win only when tom_alerce comes before tomtoolkit's apps in INSTALLED_APPS (Django looks
for a template in app order), so :func:`check_offline_templates` says when they do not.

tomtoolkit's template tags draw each plot with ``plotly.offline.plot``, which inlines all of
plotly.js (3.5 MB) into the page every time; with our base page loading plotly.js once,
:func:`plots_without_plotly_js` makes those tags write bare plot divs instead.
"""
from __future__ import annotations

from importlib import import_module
from pathlib import Path

import plotly.offline
from django.core import checks
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Template tag modules whose ``offline.plot`` calls inline plotly.js.
PLOTTING_TAG_MODULES = (
    "tom_targets.templatetags.targets_extras",
    "tom_observations.templatetags.observation_extras",
    "tom_dataproducts.templatetags.dataproduct_extras",
    "tom_alerce.templatetags.fast_targets_extras",
)


class _PlotDivs:
    """Stands in for ``plotly.offline`` in a template tag module: plots without plotly.js."""

    @staticmethod
    def plot(figure, **kwargs) -> str:
        return plotly.offline.plot(figure, **{**kwargs, "include_plotlyjs": False})


def offline_base_in_use() -> bool:
    """Whether pages extend tom_alerce's base page (the one that loads plotly.js)."""
    try:
        origin = get_template("tom_common/base.html").origin.name
    except TemplateDoesNotExist:
        return False
    return Path(origin).resolve().is_relative_to(TEMPLATES_DIR)


def plots_without_plotly_js() -> None:
    """Make tomtoolkit's plotting tags write bare plot divs; only call with our base page in use."""
    for name in PLOTTING_TAG_MODULES:
        import_module(name).offline = _PlotDivs


@checks.register(checks.Tags.templates)
def check_offline_templates(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if offline_base_in_use():
        return []
    return [checks.Warning(
        "tomtoolkit's pages load AlpineJS, Aladin Lite and JS9 from CDNs and inline plotly.js in every plot",
        hint="List 'tom_alerce' before tomtoolkit's apps in INSTALLED_APPS so its offline templates win.",
        id="tom_alerce.W001")]
