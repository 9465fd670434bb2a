"""The daily roll-up of the client dashboard: what arrived, was delivered or cancelled on
each UTC day, per engagement, service and jurisdiction.

Counted the first time a day is shown (or by the worker), once the day is settled; a
change that moves an item on a settled day forgets that day in its own transaction, and
it is counted again. Derived from the items: dropped with its engagement. See
:mod:`relaydesk.insights.daily`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DailyWork(models.Model):
    """One engagement's work on one UTC day, for one service and jurisdiction.

    The counts follow the dashboard's definitions (:mod:`relaydesk.insights.queries`):
    received on the day, latest delivery on the day, cancelled undelivered on the day;
    ``turnaround_microseconds`` adds up receipt to delivery of the day's deliveries,
    exactly, and the ``within_*`` columns count them into the turnaround buckets.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    engagement = models.ForeignKey("clients.Engagement", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="+")
    jurisdiction = models.CharField(max_length=16, blank=True)
    day = models.DateField()
    received = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    turnaround_microseconds = models.BigIntegerField(default=0)
    within_4h = models.PositiveIntegerField(default=0)
    within_8h = models.PositiveIntegerField(default=0)
    within_24h = models.PositiveIntegerField(default=0)
    within_48h = models.PositiveIntegerField(default=0)
    within_72h = models.PositiveIntegerField(default=0)
    within_120h = models.PositiveIntegerField(default=0)
    over_120h = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "engagement_id", "service_id", "jurisdiction"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "day", "service", "jurisdiction"], name="daily_work_once"
            )
        ]
        indexes = [
            models.Index(fields=["client", "day"], name="daily_work_client_day"),
            models.Index(fields=["day"], name="daily_work_day"),
        ]

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.day}: {self.received} in, {self.delivered} out"


class CountedDay(models.Model):
    """That one engagement's :class:`DailyWork` rows for one day are counted and current
    (a day without work has a mark and no rows)."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    engagement = models.ForeignKey("clients.Engagement", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    counted_at = models.DateTimeField(
        default=timezone.now, help_text="When the day was counted (a recount is later)."
    )

    class Meta:
        ordering = ["engagement_id", "day"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "day"], name="counted_day_once")
        ]

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.day} counted"
