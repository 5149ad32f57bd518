from django.apps import AppConfig
from django.urls import include, path


class FacilitiesConfig(AppConfig):
    """Plugs TNS reporting and follow-up rules into a TOM through tomtoolkit's AppConfig integration points."""

    name = "facilities"
    verbose_name = "TNS reports and follow-up"
    default_auto_field = "django.db.models.AutoField"

    def include_url_paths(self):
        return [path("facilities/", include("facilities.urls", namespace="facilities"))]

    def nav_items(self):
        return [{"partial": "facilities/partials/navbar_links.html"}]

    def target_detail_tabs(self):
        return [{"partial": "facilities/partials/tns_tab.html", "context": "facilities.views.tns_tab_context",
                 "label": "TNS"}]
