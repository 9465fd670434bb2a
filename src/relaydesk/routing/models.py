"""Routing's own rows: agents' presence, escalation ladders and the steps items reached.

Which item an agent gets and which agent gets an item is decided by
``relaydesk.core.routing``; these tables hold what that decision needs beyond
the workforce and the work items: whether an agent is ready for work (and since
when they have been idle), each engagement's escalation ladder, and the steps
of it each waiting item has reached.
"""

from __future__ import annotations

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from relaydesk.core.eligibility import Presence
from relaydesk.core.routing import EscalationLadder as CoreLadder


class PresenceStatus(models.TextChoices):
    """What an agent has told the desk about themselves (the core's ``Presence``)."""

    AVAILABLE = Presence.AVAILABLE.value, "Available"
    ON_BREAK = Presence.ON_BREAK.value, "On a break"
    OFFLINE = Presence.OFFLINE.value, "Offline"


class AgentPresence(models.Model):
    """Whether an agent is ready for work, and since when they have had nothing new.

    One row per agent, made the first time they set their presence; an agent
    without one is offline. ``idle_since`` is when the agent last received an
    item, finished one, or became available (empty: never), so the longest-idle
    strategy can favour whoever has waited longest.
    """

    agent = models.OneToOneField(
        "workforce.Agent", on_delete=models.CASCADE, related_name="presence"
    )
    status = models.CharField(
        max_length=16, choices=PresenceStatus.choices, default=PresenceStatus.OFFLINE
    )
    since = models.DateTimeField(default=timezone.now, help_text="When the status was set.")
    idle_since = models.DateTimeField(
        null=True, blank=True, help_text="When the agent last got, finished or released work."
    )

    class Meta:
        ordering = ["agent_id"]
        verbose_name_plural = "agent presence"

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.get_status_display()}"

    @property
    def presence(self) -> Presence:
        """The status as the core enum."""
        return Presence(self.status)


class EscalationLadder(models.Model):
    """An engagement's escalation ladder: what happens to an item nobody takes.

    Items are first offered to ``first_sites`` (site codes; empty: every site the
    engagement allows). After ``widen_after_minutes`` (T1) in the queue an item is
    widened — skill minimums one level lower and/or open to every allowed site —
    and after ``alert_after_minutes`` (T2) the operations lead is alerted. Each
    step reached is recorded on the item's timeline (:class:`EscalationStep`).
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.OneToOneField(
        "clients.Engagement", on_delete=models.CASCADE, related_name="escalation_ladder"
    )
    widen_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 30)],
        help_text="T1: minutes in the queue before the item is widened (empty: never).",
    )
    alert_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 30)],
        help_text="T2: minutes in the queue before the operations lead is alerted (empty: never).",
    )
    lower_proficiency = models.BooleanField(
        default=True, help_text="At T1, accept agents one proficiency level below the minimum."
    )
    other_sites = models.BooleanField(
        default=True, help_text="At T1, open the item to every site the engagement allows."
    )
    first_sites = models.JSONField(
        default=list,
        blank=True,
        help_text='Site codes offered the item first, e.g. ["fll"]; empty: every allowed site.',
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(widen_after_minutes__isnull=True)
                | Q(alert_after_minutes__isnull=True)
                | Q(alert_after_minutes__gte=models.F("widen_after_minutes")),
                name="ladder_alert_not_before_widening",
                violation_error_message="The lead cannot be alerted before the item is widened.",
            ),
        ]

    def __str__(self) -> str:
        return f"Escalation ladder of engagement {self.engagement_id}"

    def core_ladder(self) -> CoreLadder:
        """The ladder as the core's plain data."""
        return CoreLadder.standard(
            widen_after_minutes=self.widen_after_minutes,
            alert_after_minutes=self.alert_after_minutes,
            lower_proficiency=self.lower_proficiency,
            other_sites=self.other_sites,
        )


class EscalationStep(models.Model):
    """One step of its engagement's ladder that a queued item reached, recorded once.

    ``queued_since`` is when the item last entered the queue: a released item
    climbs its ladder again from the bottom. The unique constraint keeps two
    routing workers from recording the same step twice.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(
        "work.WorkItem", on_delete=models.CASCADE, related_name="escalation_steps"
    )
    queued_since = models.DateTimeField()
    level = models.PositiveSmallIntegerField(help_text="1 for the ladder's first step, …")
    at = models.DateTimeField(default=timezone.now)
    relaxations = models.JSONField(
        default=list, help_text='What the step did: "lower-proficiency", "other-sites", …'
    )

    class Meta:
        ordering = ["item_id", "queued_since", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "queued_since", "level"], name="escalation_step_once"
            ),
        ]

    def __str__(self) -> str:
        return f"RD-{self.item_id} step {self.level} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def waited(self) -> dt.timedelta:
        """How long the item had waited when the step was recorded."""
        return self.at - self.queued_since


class HandoffState(models.TextChoices):
    """Where a handoff stands: offered, taken up, or back in the queue."""

    OFFERED = "offered", "Waiting for acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RETURNED = "returned", "Returned to the queue"


class Handoff(models.Model):
    """An in-progress item passed from an agent whose shift ends to one of the next shift.

    The outgoing agent writes ``note`` (what is done, what is left); the item is
    offered to ``to_agent``, who must acknowledge it by ``respond_by``. An offer
    not acknowledged in time, or an item whose holder logged off without a
    handoff, returns to the front of the queue (``returned``) and alerts the
    operations lead. At most one handoff of an item is open at a time.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("work.WorkItem", on_delete=models.CASCADE, related_name="handoffs")
    from_agent = models.ForeignKey(
        "workforce.Agent", on_delete=models.PROTECT, related_name="handoffs_given"
    )
    to_agent = models.ForeignKey(
        "workforce.Agent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs_received",
        help_text="Who the item is offered to (empty: nobody eligible was on the next shift).",
    )
    note = models.TextField(help_text="What is done and what is left, for the next person.")
    state = models.CharField(
        max_length=16, choices=HandoffState.choices, default=HandoffState.OFFERED
    )
    created_at = models.DateTimeField(default=timezone.now)
    respond_by = models.DateTimeField(
        help_text="When an unacknowledged offer returns to the queue."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(state="offered"),
                name="handoff_one_open_per_item",
                violation_error_message="This item already has a handoff waiting.",
            ),
        ]
        indexes = [models.Index(fields=["state", "respond_by"], name="handoff_open_by_deadline")]

    def __str__(self) -> str:
        return f"RD-{self.item_id} handoff {self.from_agent_id}→{self.to_agent_id} ({self.state})"
