"""Webhook endpoints a client admin sets up per engagement, and the deliveries of events to them."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventType(models.TextChoices):
    """What happened, as the ``type`` of an event and the ``Relaydesk-Event-Type`` header."""

    SUBMITTED = "work_item.submitted", "A work item was submitted"
    DELIVERED = "work_item.delivered", "A work item was delivered"
    ACCEPTED = "work_item.accepted", "Delivered work was accepted"
    REWORK_REQUESTED = "work_item.rework_requested", "Rework was requested on delivered work"
    CANCELLED = "work_item.cancelled", "A work item was cancelled"
    STATE_CHANGED = "work_item.state_changed", "A work item moved to another state"
    COMMENT_CREATED = "comment.created", "A comment was posted on a work item"
    PING = "ping", "Test event"


# The events an endpoint can subscribe to (a test event is sent on request only).
SUBSCRIBABLE = tuple(e for e in EventType if e is not EventType.PING)


class WebhookEndpoint(models.Model):
    """A URL of a client's own system that receives the events of one engagement.

    Each delivery is signed with the endpoint's secret (HMAC-SHA256; see
    :mod:`relaydesk.webhooks.signing`). The secret is stored only encrypted with
    the client's data key (``secret_*``, AES-GCM bound to the client, this
    secret's ``secret_id`` and the key version); it is shown in full once, when
    the endpoint is created or the secret rolled. After a roll the previous
    secret (``previous_secret_*``) keeps signing beside the new one until
    ``previous_secret_expires_at``, so a receiver can switch without losing events.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types it receives.")
    active = models.BooleanField(default=True)

    secret_id = models.UUIDField(default=uuid.uuid4, editable=False)
    secret_key_version = models.PositiveIntegerField(default=1)
    secret_nonce = models.BinaryField(max_length=12)
    secret_ciphertext = models.BinaryField(max_length=128)
    secret_hint = models.CharField(
        max_length=8, help_text="The secret's last four characters, to tell secrets apart."
    )
    previous_secret_id = models.UUIDField(null=True, blank=True, editable=False)
    previous_secret_key_version = models.PositiveIntegerField(null=True, blank=True)
    previous_secret_nonce = models.BinaryField(max_length=12, null=True, blank=True)
    previous_secret_ciphertext = models.BinaryField(max_length=128, null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rolled_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement_id", "created_at", "id"]
        indexes = [
            models.Index(fields=["engagement", "active"], name="webhook_endpoint_engagement")
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.engagement_id})"

    @property
    def event_labels(self) -> list[str]:
        """The chosen event types, in the order of :data:`SUBSCRIBABLE`."""
        return [e.value for e in SUBSCRIBABLE if e.value in self.event_types]

    def previous_secret_signs(self, at: dt.datetime | None = None) -> bool:
        """True while the secret before the last roll still signs deliveries."""
        expires = self.previous_secret_expires_at
        return (
            self.previous_secret_id is not None
            and expires is not None
            and expires > (at or timezone.now())
        )


class DeliveryState(models.TextChoices):
    """Where a delivery stands."""

    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    GIVEN_UP = "given_up", "Given up"


# States in which a delivery is sent again when its ``next_attempt_at`` comes.
WAITING_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, and how its attempts went.

    ``payload`` is the event exactly as the endpoint receives it, fixed when the
    event happened. A delivery waits (``pending``, or ``failed`` after an
    unsuccessful attempt) until ``next_attempt_at``; it ends ``succeeded`` on a
    2xx answer, or ``given_up`` after the last attempt. A failed test event has
    no next attempt. ``last_error`` says why the last attempt failed, in words
    for the client's admin, without the URL or any secret.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    payload = models.JSONField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    # Set while one process sends it, so a task, the sweep and a person never send it twice.
    sending_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(state__in=["pending", "failed"]),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> endpoint {self.endpoint_id}"

    @property
    def state_enum(self) -> DeliveryState:
        """The state as an enum member."""
        return DeliveryState(self.state)

    @property
    def can_retry(self) -> bool:
        """True when a person may send it again now: it failed or was given up."""
        return self.state in (DeliveryState.FAILED, DeliveryState.GIVEN_UP)
