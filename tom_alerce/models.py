"""What the TOM keeps of the broker's classifications: the current ones and their history."""
from __future__ import annotations

from django.db import models
from django.utils import timezone
from tom_targets.base_models import BaseTarget


class TargetClassification(models.Model):
    """One class's probability for a target, per classifier and version (ALeRCE's probability table)."""

    target = models.ForeignKey(BaseTarget, on_delete=models.CASCADE, related_name="alerce_classifications")
    classifier_name = models.CharField(max_length=64)
    classifier_version = models.CharField(max_length=32)
    class_name = models.CharField(max_length=32)
    probability = models.FloatField()
    ranking = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=200, blank=True, default="")
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target", "classifier_name", "classifier_version", "class_name"],
                name="unique_target_classifier_class",
            )
        ]
        indexes = [
            # The SN Hunter and the target list ask "top class X of classifier Y, best first".
            models.Index(fields=["classifier_name", "class_name", "ranking", "probability"],
                         name="ix_tc_classifier_class_rank"),
            models.Index(fields=["target", "classifier_name", "ranking"], name="ix_tc_target_classifier"),
        ]
        ordering = ["classifier_name", "-classifier_version", "ranking"]

    def __str__(self) -> str:
        return (f"{self.classifier_name} {self.classifier_version}: "
                f"{self.class_name} {self.probability:.3f} (#{self.ranking})")


class ClassificationHistory(models.Model):
    """A row each time a classifier's probabilities for a target change: what, when, from where."""

    target = models.ForeignKey(BaseTarget, on_delete=models.CASCADE, related_name="alerce_classification_history")
    classifier_name = models.CharField(max_length=64)
    classifier_version = models.CharField(max_length=32)
    probabilities = models.JSONField()
    source = models.CharField(max_length=200, blank=True, default="")
    recorded = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-recorded", "-id"]
        verbose_name_plural = "classification history"

    @property
    def top_class(self) -> tuple[str, float] | None:
        """(class_name, probability) of the most probable class (JSON key order is not kept)."""
        return max(self.probabilities.items(), key=lambda kv: kv[1], default=None)

    def __str__(self) -> str:
        return f"{self.target_id} {self.classifier_name} {self.classifier_version} @ {self.recorded:%Y-%m-%d %H:%M}"
