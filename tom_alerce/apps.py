from django.apps import AppConfig
from django.urls import include, path


class TomAlerceConfig(AppConfig):
    """Plugs tom_alerce into a TOM through tomtoolkit 3.1's AppConfig integration points."""

    name = "tom_alerce"
    verbose_name = "ALeRCE classifications"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from tom_alerce import offline

        if offline.offline_base_in_use():
            offline.plots_without_plotly_js()

    def include_url_paths(self):
        from tom_alerce.tables import ClassifiedTargetListView
        from tom_alerce.views import CheckForNewDataView

        return [
            path("alerce/", include("tom_alerce.urls", namespace="tom_alerce")),
            # tomtoolkit 3.1 has no integration point for target list columns: this list view
            # (the TOM's own, plus classification columns) answers /targets/ before tom_targets does.
            path("targets/", ClassifiedTargetListView.as_view(), name="alerce-target-list"),
            # tom_dataproducts' "Check for new data", for the targets the user may change only.
            path("dataproducts/data/reduced/update/", CheckForNewDataView.as_view(), name="alerce-update-reduced-data"),
        ]

    def nav_items(self):
        return [{"partial": "tom_alerce/partials/navbar_link.html"}]

    def target_detail_tabs(self):
        return [{"partial": "tom_alerce/partials/target_tab.html",
                 "context": "tom_alerce.templatetags.alerce_extras.alerce_tab_context",
                 "label": "ALeRCE"}]
