"""The work items' roll-up: one row per item with the figures dashboards add up, and its
time in progress cut into UTC hours.

Kept in step with each item's timeline by :mod:`relaydesk.insights.measures`, so
dashboards count and sum these rows in the database instead of replaying timelines.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ItemMeasure(models.Model):
    """What one work item adds to the dashboards, replayed from its timeline.

    ``handled_seconds`` is the time the item spent in progress, summed over every
    spell that has ended (time waiting on the client, queued, assigned or in review
    is not handled time). ``completed_at`` is the item's last completion, and
    ``agent`` the person who did it, with ``site`` their site; the item's handled
    time counts for them. ``created_at`` and ``delivered_at`` are copied from the
    item, so the dashboards' queries read one table.
    """

    item = models.OneToOneField("work.WorkItem", on_delete=models.CASCADE, related_name="measure")
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey("clients.Engagement", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(
        "workforce.Site",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The site of the agent who last completed the item.",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The agent who last completed the item.",
    )
    created_at = models.DateTimeField(help_text="When the item arrived (the item's own).")
    delivered_at = models.DateTimeField(null=True, blank=True)
    handled_seconds = models.PositiveBigIntegerField(
        default=0, help_text="Time in progress, over every ended spell."
    )
    first_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["item_id"]
        indexes = [
            # The client dashboard: deliveries of one client over a period.
            models.Index(fields=["client", "delivered_at"], name="measure_client_delivered"),
            # The provider dashboard: work completed over a period, by site, by agent, and
            # (the others' columns carried along so the index answers alone) all of it.
            models.Index(fields=["site", "completed_at"], name="measure_site_completed"),
            models.Index(fields=["agent", "completed_at"], name="measure_agent_completed"),
            models.Index(
                fields=["completed_at", "site", "agent", "handled_seconds"],
                name="measure_completed",
            ),
            models.Index(
                fields=["engagement", "completed_at", "site", "agent", "handled_seconds"],
                name="measure_engagement_completed",
            ),
            # Arrivals by hour of the day (the coverage heat map).
            models.Index(fields=["created_at", "engagement"], name="measure_created"),
        ]

    def __str__(self) -> str:
        return f"Measures of RD-{self.item_id}"


class HandledSlice(models.Model):
    """Part of an item's time in progress that falls inside one UTC hour, and who worked it.

    Every ended spell in progress of the item (see :mod:`relaydesk.insights.measures`) is
    cut at the UTC hours it spans: one row per hour, from ``started_at`` to ``ended_at``
    inside the hour that begins at ``hour``, ``seconds`` long. ``agent`` is the person who
    started the work the spell belongs to (the item's holder then), whoever completed the
    item in the end. The operations dashboard adds the seconds up per agent and hour in the
    database and counts those that fall on the agent's shift (its utilisation). Replaced
    with the item's :class:`ItemMeasure` after every change of the item.
    """

    item = models.ForeignKey(
        "work.WorkItem", on_delete=models.CASCADE, related_name="handled_slices"
    )
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey("clients.Engagement", on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who started the work (the item's holder while it was in progress).",
    )
    hour = models.DateTimeField(help_text="The first instant of the UTC hour.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    seconds = models.PositiveIntegerField(help_text="From start to end, to the nearest second.")

    class Meta:
        ordering = ["item_id", "started_at"]
        indexes = [
            # The operations dashboard: seconds per agent and hour over a period, of all work
            # or of one engagement (the columns summed carried along so the index answers).
            models.Index(fields=["hour", "agent", "seconds"], name="handled_hour"),
            models.Index(
                fields=["engagement", "hour", "agent", "seconds"], name="handled_engagement_hour"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"RD-{self.item_id} in progress {self.started_at:%Y-%m-%d %H:%M}–{self.ended_at:%H:%M}"
        )
