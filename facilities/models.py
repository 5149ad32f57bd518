"""What facilities remembers: TNS reports and their policy, follow-up rules and what they fired.

Both halves share one principle: an action on the outside world (a report to TNS, an
observation request) is recorded before and after it is taken, and a database
constraint makes sure it is never taken twice for the same target.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from tom_targets.models import Target


class TNSReport(models.Model):
    """One AT report of one target, from its payload to TNS's verdict."""

    class Status(models.TextChoices):
        DRAFT = "draft", "draft"
        DRY_RUN = "dry_run", "dry run (not sent)"
        QUEUED = "queued", "queued: waiting for TNS's rate limit"
        SENDING = "sending", "sending"
        SENT = "sent", "sent, awaiting TNS's reply"
        OUTCOME_UNKNOWN = "outcome_unknown", "upload failed; TNS may have it"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"
        ALREADY_ON_TNS = "already_on_tns", "already on TNS; not sent"
        FAILED = "failed", "not sent, or refused by TNS"
        NOT_RECEIVED = "not_received", "upload never reached TNS (searched); may be sent again"

    # Any report that may reach or has reached TNS blocks another one for its target.
    ACTIVE = (Status.QUEUED, Status.SENDING, Status.SENT, Status.OUTCOME_UNKNOWN, Status.ACCEPTED)
    # What ``tns_poll`` works on until it is settled.
    PENDING = (Status.QUEUED, Status.SENDING, Status.SENT, Status.OUTCOME_UNKNOWN)

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="tns_reports")
    internal_name = models.CharField(max_length=64, help_text="the survey's name, e.g. the ZTF oid")
    mode = models.CharField(max_length=16, choices=[("manual", "manual"), ("auto", "automatic")])
    payload = models.JSONField(help_text="the bulk report as sent")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    report_id = models.CharField(max_length=32, blank=True)
    feedback = models.JSONField(default=list, blank=True)
    iau_name = models.CharField(max_length=32, blank=True, help_text="e.g. 'AT 2025abc'")
    error = models.TextField(blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="queued: when TNS's rate limit resets")
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            # A target is reported at most once: any report that may have reached TNS blocks another.
            models.UniqueConstraint(
                fields=["target"],
                condition=Q(status__in=["queued", "sending", "sent", "outcome_unknown", "accepted"]),
                name="one_live_tns_report_per_target",
            ),
        ]

    def __str__(self) -> str:
        return f"TNS report of {self.internal_name} ({self.status})"


class TNSAutoReportPolicy(models.Model):
    """When the stream listener may report a candidate to TNS without a person."""

    name = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    dry_run = models.BooleanField(default=True, help_text="decide and log, but send nothing")
    classifier_name = models.CharField(max_length=64, default="stamp_classifier")
    class_name = models.CharField(max_length=32, default="SN")
    min_probability = models.FloatField(default=0.7)
    min_detections = models.PositiveIntegerField(default=2)
    max_magnitude = models.FloatField(default=20.5, help_text="faintest magpsf worth reporting")
    daily_cap = models.PositiveIntegerField(default=20)

    class Meta:
        verbose_name_plural = "TNS auto-report policies"

    def __str__(self) -> str:
        return self.name


class TNSAutoReportDecision(models.Model):
    """Why the automatic mode did or did not report a target: every decision, logged."""

    policy = models.ForeignKey(TNSAutoReportPolicy, on_delete=models.CASCADE, related_name="decisions")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="tns_decisions")
    report = models.BooleanField()
    reason = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]


class TNSOutage(models.Model):
    """TNS failing an automatic report: the stream's reports leave it alone until ``retry_at``.

    One row per TNS instance, in the database so every listener and web worker sees it; none
    while TNS answers (see :mod:`facilities.tns.breaker`).
    """

    base_url = models.CharField(max_length=200, unique=True)
    failed_at = models.DateTimeField(help_text="when TNS last failed an automatic report")
    reason = models.TextField(help_text="how it failed: the client's message, never the API key")
    retry_at = models.DateTimeField(help_text="when automatic reports call TNS again")

    def __str__(self) -> str:
        return f"TNS at {self.base_url} failing since {self.failed_at:%Y-%m-%d %H:%M:%S} UTC"


class FollowupRule(models.Model):
    """Which targets, through which facility and template, and when they can be observed."""

    name = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    dry_run = models.BooleanField(default=False, help_text="record what would be submitted, submit nothing")
    # Which targets
    classifier_name = models.CharField(max_length=64, default="stamp_classifier")
    class_name = models.CharField(max_length=32, default="SN")
    min_probability = models.FloatField(default=0.5)
    max_magnitude = models.FloatField(null=True, blank=True)
    max_hours_since_first_detection = models.FloatField(null=True, blank=True)
    min_dec = models.FloatField(null=True, blank=True)
    max_dec = models.FloatField(null=True, blank=True)
    # Where and how
    facility = models.CharField(max_length=64, help_text="a TOM facility name, e.g. LCO or SOAR")
    observation_type = models.CharField(max_length=64, blank=True,
                                        help_text="the facility form to use; empty for its default")
    template = models.JSONField(default=dict, help_text="form fields of the request; target and window are filled in")
    site = models.CharField(max_length=64, default="Cerro Pachon", help_text="a known or configured site")
    # When
    window_hours = models.FloatField(default=24.0, help_text="look for visibility within the next N hours")
    max_airmass = models.FloatField(default=2.0)
    sun_altitude_deg = models.FloatField(default=-12.0, help_text="darkness: the Sun below this altitude")
    min_window_minutes = models.FloatField(default=30.0)
    nightly_budget = models.PositiveIntegerField(default=5, help_text="requests per night at most")

    def __str__(self) -> str:
        return self.name


class FollowupTrigger(models.Model):
    """A rule fired (or declined) for a target; a fired rule never fires again for that target."""

    class Status(models.TextChoices):
        SUBMITTING = "submitting", "submitting"
        SUBMITTED = "submitted", "submitted"
        OUTCOME_UNKNOWN = "outcome_unknown", "submission failed; the facility may have it"
        DRY_RUN = "dry_run", "dry run"
        FAILED = "failed", "refused; nothing submitted"

    rule = models.ForeignKey(FollowupRule, on_delete=models.CASCADE, related_name="triggers")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="followup_triggers")
    status = models.CharField(max_length=16, choices=Status.choices)
    observation_record = models.ForeignKey("tom_observations.ObservationRecord", null=True, blank=True,
                                           on_delete=models.SET_NULL)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "target"], condition=~Q(status="failed"),
                                    name="one_followup_per_rule_and_target"),
        ]
