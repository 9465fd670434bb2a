"""The operations dashboard's daily roll-up: per settled UTC day, what each agent completed
and their handled time on shift, and what arrived in each hour, per engagement and for all
engagements together.

The provider's figures, every client's work together: no client column, read only by the
operations dashboard (operations leads and provider admins). Counted the first time a day
is shown (or by the worker), once the day is settled; whatever moves a figure of a settled
day forgets it in its own transaction, and it is counted again. Derived from the work
items' roll-up (:class:`~relaydesk.insights.measure_models.ItemMeasure`,
:class:`~relaydesk.insights.measure_models.HandledSlice`) and the shift calendars. See
:mod:`relaydesk.insights.ops_daily`.

In each table a row without an engagement holds the figure of all engagements together:
the handled time on shift is capped per agent and hour (several items in progress at once
fill an hour at most), so it does not add up across engagements; the others are kept that
way too so the whole provider's view reads one row per day and agent, not one per
engagement.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["CountedOperationsDay", "DailyAgentOnShift", "DailyAgentWork", "HourlyArrivals"]


class DailyAgentWork(models.Model):
    """Items completed on one UTC day by one agent at one site, and their handled time.

    As :func:`relaydesk.insights.provider_queries.completed_work` counts them: items whose
    last completion falls on the day, for the agent who completed them and that agent's
    site then (either may be empty), with their whole handled time. ``engagement`` empty:
    every engagement's items.
    """

    day = models.DateField()
    engagement = models.ForeignKey(
        "clients.Engagement", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # As the items' own rows: a site or person deleted leaves their work without them.
    site = models.ForeignKey(
        "workforce.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    completed = models.PositiveIntegerField(default=0)
    handled_seconds = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["day", "engagement_id", "site_id", "agent_id"]
        indexes = [models.Index(fields=["engagement", "day"], name="ops_agent_work_day")]

    def __str__(self) -> str:
        return f"{self.day} agent {self.agent_id}: {self.completed} completed"


class DailyAgentOnShift(models.Model):
    """One agent's handled time on shift on one UTC day, in microseconds.

    As :func:`relaydesk.insights.provider_queries.handled_on_shift` counts it, hour by hour
    by the agent's shift calendar, of one engagement's items (``engagement`` empty: of all
    their items together, which is not the sum of the engagements'). Kept exact, to the
    microsecond, so a period's figure rounds to the same second as when counted at once;
    a row of zero says the agent had time in progress that day, none of it on shift.
    """

    day = models.DateField()
    engagement = models.ForeignKey(
        "clients.Engagement", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    handled_on_shift_microseconds = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day", "engagement_id", "agent_id"]
        indexes = [models.Index(fields=["engagement", "day"], name="ops_on_shift_day")]

    def __str__(self) -> str:
        return f"{self.day} agent {self.agent_id}: on shift with work"


class HourlyArrivals(models.Model):
    """Items that arrived in one UTC hour of one day (``engagement`` empty: of all
    engagements), as :func:`relaydesk.insights.provider_queries.arrivals` counts them."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField(help_text="The UTC hour of the day, 0–23.")
    engagement = models.ForeignKey(
        "clients.Engagement", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    arrived = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "hour", "engagement_id"]
        indexes = [models.Index(fields=["engagement", "day"], name="ops_arrivals_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.hour:02d}:00 UTC: {self.arrived} arrived"


class CountedOperationsDay(models.Model):
    """That the operations roll-up of one UTC day is counted and current (a day without
    work has a mark and no rows)."""

    day = models.DateField(unique=True)
    counted_at = models.DateTimeField(
        default=timezone.now, help_text="When the day was counted (a recount is later)."
    )

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} counted for the operations dashboard"
