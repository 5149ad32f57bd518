from django.contrib import admin

from facilities.models import (
    FollowupRule,
    FollowupTrigger,
    TNSAutoReportDecision,
    TNSAutoReportPolicy,
    TNSOutage,
    TNSReport,
)


@admin.register(TNSReport)
class TNSReportAdmin(admin.ModelAdmin):
    list_display = ("internal_name", "target", "status", "iau_name", "mode", "report_id", "created")
    list_filter = ("status", "mode")
    search_fields = ("internal_name", "iau_name", "report_id")
    readonly_fields = ("payload", "feedback", "created", "modified")


@admin.register(TNSAutoReportPolicy)
class TNSAutoReportPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "dry_run", "classifier_name", "class_name", "min_probability",
                    "min_detections", "max_magnitude", "daily_cap")


@admin.register(TNSAutoReportDecision)
class TNSAutoReportDecisionAdmin(admin.ModelAdmin):
    list_display = ("target", "policy", "report", "reason", "created")
    list_filter = ("report", "policy")


@admin.register(FollowupRule)
class FollowupRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "dry_run", "facility", "observation_type", "site", "class_name",
                    "min_probability", "max_airmass", "nightly_budget")
    list_filter = ("active", "facility", "site")


@admin.register(FollowupTrigger)
class FollowupTriggerAdmin(admin.ModelAdmin):
    list_display = ("rule", "target", "status", "window_start", "window_end", "observation_record", "created")
    list_filter = ("status", "rule")


@admin.register(TNSOutage)
class TNSOutageAdmin(admin.ModelAdmin):
    """The automatic reports' circuit breaker: deleting the row lets them call TNS again at once."""

    list_display = ("base_url", "failed_at", "reason", "retry_at")
