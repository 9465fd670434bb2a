"""Objectives an engagement's client and provider agree on."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Metric(models.TextChoices):
    """What an objective measures (the definitions are in ``relaydesk.insights.objectives``)."""

    SLA_ATTAINMENT = "sla_attainment", "Turnaround SLA attainment"
    QUALITY_SCORE = "quality_score", "Quality score"
    TURNAROUND_HOURS = "turnaround_hours", "Mean turnaround"
    BACKLOG_CEILING = "backlog_ceiling", "Backlog ceiling"
    MONTHLY_VOLUME = "monthly_volume", "Monthly volume"
    COST_CAP = "cost_cap", "Monthly cost cap"


class Objective(models.Model):
    """A target for one figure of an engagement, proposed by one side and agreed by the other.

    Either the client's admin or the provider's operations lead or admin proposes it;
    the other side agrees (``agreed_at``). A retired objective stays for the record and
    no longer shows on the dashboard. At most one live objective per engagement and metric.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="objectives"
    )
    metric = models.CharField(max_length=32, choices=Metric.choices)
    target = models.DecimalField(max_digits=12, decimal_places=2)
    note = models.TextField(blank=True, help_text="Why this target, as the two sides agreed it.")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    agreed_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["engagement_id", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "metric"],
                condition=Q(retired_at__isnull=True),
                name="one_live_objective_per_metric",
                violation_error_message="This engagement already has an objective for that figure.",
            ),
            models.CheckConstraint(
                condition=Q(target__gte=0), name="objective_target_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.engagement} · {self.get_metric_display()} {self.target}"

    @property
    def metric_enum(self) -> Metric:
        """The metric as its enum."""
        return Metric(self.metric)

    @property
    def is_agreed(self) -> bool:
        """Both sides have agreed the target."""
        return self.agreed_at is not None


# The roll-ups and reports live in modules of their own; imported here so Django finds them.
from relaydesk.insights.daily_models import CountedDay, DailyWork  # noqa: E402, F401
from relaydesk.insights.measure_models import ItemMeasure  # noqa: E402, F401
from relaydesk.insights.ops_daily_models import *  # noqa: E402,F403
from relaydesk.insights.report_models import *  # noqa: E402,F403
