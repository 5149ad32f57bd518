from django.contrib import admin

from tom_alerce.models import ClassificationHistory, TargetClassification


@admin.register(TargetClassification)
class TargetClassificationAdmin(admin.ModelAdmin):
    list_display = ("target", "classifier_name", "classifier_version", "class_name", "probability", "ranking",
                    "source", "last_seen")
    list_filter = ("classifier_name", "classifier_version", "ranking")
    search_fields = ("target__name", "class_name")
    raw_id_fields = ("target",)


@admin.register(ClassificationHistory)
class ClassificationHistoryAdmin(admin.ModelAdmin):
    list_display = ("target", "classifier_name", "classifier_version", "source", "recorded")
    list_filter = ("classifier_name", "classifier_version")
    search_fields = ("target__name",)
    raw_id_fields = ("target",)
    date_hierarchy = "recorded"
