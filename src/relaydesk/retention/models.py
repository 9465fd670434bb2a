"""The retention purge's own timetable: one row per UTC day the worker purged (or tried to)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DailyPurgeState(models.TextChoices):
    """Where one day's scheduled purge stands."""

    QUEUED = "queued", "Queued for the worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed; tried again later"


class DailyPurge(models.Model):
    """The retention purge of one UTC day, as the worker's sweep schedules it.

    The first sweep of a day writes the row and queues the purge task; the unique
    ``day`` means concurrent sweeps queue it once. The task claims the row
    (queued -> running, ``attempts`` + 1) before purging, so two tasks never purge at
    once; a run keeps ``alive_at`` fresh while it works. A failed run (it stopped, or
    left something unpurged) is queued again by a later sweep of the same day, a few
    times at most; one whose worker died (no sign of life for a while) too. Not
    client-owned: it names no client and holds no client data, only counts.
    """

    day = models.DateField(unique=True, help_text="The UTC date the purge is for.")
    state = models.CharField(
        max_length=10, choices=DailyPurgeState.choices, default=DailyPurgeState.QUEUED
    )
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    alive_at = models.DateTimeField(
        null=True, blank=True, help_text="The running purge's last sign of life."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why the last attempt failed: the kind of error or what was left, no detail.",
    )
    counts = models.JSONField(default=dict, blank=True, help_text="What the last attempt did.")

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"Retention purge of {self.day:%Y-%m-%d}: {self.state}"
