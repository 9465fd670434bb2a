"""Work items, their timelines, comments and attachments.

Every row here carries its client, so every read can be filtered by the
actor's client in one place (``relaydesk.work.queries``).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from relaydesk.core.lifecycle import State

STATE_CHOICES = [(s.value, s.label) for s in State]
HELD_STATES = [State.ASSIGNED, State.IN_PROGRESS, State.WAITING_ON_CLIENT, State.REWORK]


class Priority(models.IntegerChoices):
    """How urgent an item is; higher goes first."""

    LOW = 1, "Low"
    NORMAL = 2, "Normal"
    HIGH = 3, "High"
    URGENT = 4, "Urgent"


def random_qa_seed() -> str:
    """A random QA sampling seed (intake sets a reproducible one; see ``work.actions``)."""
    return secrets.token_hex(32)


class WorkItem(models.Model):
    """One piece of a client's work, from request to acceptance.

    ``state`` only changes through ``relaydesk.work.actions``, which consults
    the state machine in ``relaydesk.core.lifecycle`` and writes a timeline
    event for every change.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="work_items"
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    jurisdiction = models.CharField(
        max_length=10, blank=True, help_text="ISO 3166-2 code such as US-FL, where the law matters."
    )
    language = models.CharField(max_length=8, default="en")
    external_ref = models.CharField(
        max_length=100, blank=True, help_text="The client's own reference (matter, ticket, …)."
    )
    due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When the item is due (UTC): the turnaround target's due time on the engagement's "
            "calendar, or the hard deadline when that is earlier."
        ),
    )
    promised_priority = models.PositiveSmallIntegerField(
        choices=Priority.choices,
        null=True,
        blank=True,
        help_text=(
            "The priority the item was submitted with. Its SLA policy follows this one, so "
            "raising the priority of a late item does not change what was promised."
        ),
    )
    deadline = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "The client's hard deadline (a court filing date, a payroll cut-off): the item is "
            "never due later, and pauses do not move it."
        ),
    )
    state = models.CharField(max_length=20, choices=STATE_CHOICES, default=State.NEW.value)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_items",
        help_text="The agent holding the item.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_items",
        help_text="Who reviewed the item last.",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_items"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    qa_seed = models.CharField(
        max_length=64,
        default=random_qa_seed,
        editable=False,
        help_text="What QA sampling keys on; secret, so nobody can tell in advance.",
    )
    queue_front = models.BooleanField(
        default=False,
        help_text=(
            "Routed before every other queued item: work dropped at a shift change (a handoff "
            "nobody acknowledged, or nobody to take it). Cleared when someone gets the item."
        ),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["client", "state", "-created_at"], name="item_client_state"),
            models.Index(fields=["state", "-priority", "created_at"], name="item_queue_order"),
            # Routing order (dropped work first, then priority, due time, age): claims
            # read it with SKIP LOCKED.
            models.Index(
                fields=["state", "-queue_front", "-priority", "due_at", "created_at", "id"],
                name="item_routing_order",
            ),
            models.Index(fields=["owner", "state"], name="item_owner_state"),
            # The provider's lists, newest first, with and without a state filter.
            models.Index(fields=["-created_at", "-id"], name="item_recent"),
            models.Index(fields=["state", "-created_at", "-id"], name="item_state_recent"),
            # The operations board: queue depth and oldest wait per engagement and service
            # (read from the index alone), and items due soon in open states.
            models.Index(
                fields=["state", "engagement", "service", "created_at", "due_at"],
                name="item_queue_depth",
            ),
            models.Index(fields=["state", "due_at"], name="item_state_due"),
            # The dashboards: a client's (or everyone's) arrivals and deliveries over a
            # period; with the receipt time beside the delivery, turnaround and the
            # backlog at a period's start are read from the index alone.
            models.Index(fields=["client", "created_at"], name="item_client_received"),
            models.Index(
                fields=["client", "delivered_at", "created_at"], name="item_client_delivered"
            ),
            models.Index(fields=["delivered_at", "created_at"], name="item_delivered"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state__in=[s.value for s in HELD_STATES]) | Q(owner__isnull=False),
                name="item_held_states_have_owner",
                violation_error_message="An assigned or in-progress item must have an owner.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        """The number people quote, e.g. RD-1042."""
        return f"RD-{self.pk}"

    @property
    def state_enum(self) -> State:
        """The state as the core enum."""
        return State(self.state)


EVENT_LABELS = {
    "submitted": "Submitted",
    "commented": "Commented",
    "attached": "File added",
    "purged": "Documents deleted under retention",
    "sla_warning": "SLA warning",
    "sla_breached": "SLA target missed",
    "sla_escalated": "SLA escalation",
    "qa_sampling": "QA sampling",
}
PAST_TENSE = {
    "queue": "Queued",
    "assign": "Assigned",
    "take": "Taken",
    "release": "Released to the queue",
    "start": "Work started",
    "wait_on_client": "Waiting on the client",
    "resume": "Resumed",
    "complete": "Completed",
    "approve": "Approved in review",
    "return_for_rework": "Returned for rework",
    "request_rework": "Client asked for rework",
    "accept": "Accepted by the client",
    "cancel": "Cancelled",
}


class WorkItemEvent(models.Model):
    """One entry on an item's timeline: what happened, who did it, and when.

    Lifecycle events record the state before and after; the timeline is the
    item's history, so later features (SLA clocks, handle time) replay it.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)
    internal = models.BooleanField(
        default=False, help_text="Hidden from the client (e.g. who was assigned)."
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["item", "at"], name="event_item_time")]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        """What happened, as a person reads it."""
        known = PAST_TENSE.get(self.kind) or EVENT_LABELS.get(self.kind)
        return known or self.kind.replace("_", " ").capitalize()

    @property
    def to_state_label(self) -> str:
        """The state the event moved the item to, as a person reads it."""
        return State(self.to_state).label if self.to_state else ""


class Visibility(models.TextChoices):
    """Who may read a comment or attachment."""

    CLIENT = "client", "Visible to the client"
    INTERNAL = "internal", "Internal to the provider"


class Comment(models.Model):
    """A message on an item, either visible to the client or internal to the provider.

    A row with ``purged_at`` had its body deleted under the engagement's retention
    (``relaydesk.retention``); author and time stay as a record.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.CLIENT
    )
    created_at = models.DateTimeField(default=timezone.now)
    purged_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the body was deleted under retention; the row stays as a record.",
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment on RD-{self.item_id} by {self.author_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    """Store files under the client's folder with a random name, never the uploaded one."""
    return f"attachments/{instance.client_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on an item: the client's material or the provider's deliverable.

    The stored file is ciphertext (``relaydesk.vault``): encrypted with the
    client's data key version ``key_version``, bound to the client and to
    ``encryption_id``. Name, size and SHA-256 describe the plaintext;
    ``content_type`` and ``file_kind`` come from sniffing its bytes. Files
    stored before encryption have no ``encryption_id``. A row with
    ``purged_at`` is a tombstone: its file was deleted under the engagement's
    retention (``relaydesk.retention``).
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.CLIENT
    )
    created_at = models.DateTimeField(default=timezone.now)
    encryption_id = models.UUIDField(
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Random id bound into the ciphertext; empty for files stored unencrypted.",
    )
    key_version = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="The client data key version used."
    )
    file_kind = models.CharField(
        max_length=16, blank=True, help_text="What the bytes are: pdf, image, office, text, email."
    )
    purged_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the stored file was deleted under retention; the row stays as a record.",
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class IdempotencyKey(models.Model):
    """Remembers an ``Idempotency-Key`` so a repeated API request returns the same item."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_digest = models.CharField(max_length=64)
    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_per_client")
        ]

    def __str__(self) -> str:
        return self.key


class SensitiveKind(models.TextChoices):
    """What kind of confidential value a detail holds."""

    PHI = "phi", "Health information"
    BANK_ACCOUNT = "bank_account", "Bank details"
    NATIONAL_ID = "national_id", "National id / SSN"
    OTHER = "other", "Other confidential value"


def visible_tail(value: str) -> str:
    """What the mask of ``value`` shows: its last four characters, none of a short value."""
    return value[-4:] if len(value) >= 8 else ""


class SensitiveDetail(models.Model):
    """A confidential value attached to an item (a claim number, an IBAN, an SSN).

    The value is stored only encrypted (``relaydesk.vault``): AES-GCM with the
    client's data key version ``key_version``, bound to the client, the item and
    the random ``encryption_id``, so ciphertext copied to another row does not
    decrypt. ``last4`` keeps the tail the mask shows (empty for values under
    eight characters), so lists never decrypt. The full value is decrypted only
    when someone who may see the item reveals it (audited) and in the client's
    export.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="sensitive_details")
    kind = models.CharField(max_length=16, choices=SensitiveKind.choices)
    label = models.CharField(max_length=60)
    encryption_id = models.UUIDField(
        unique=True,
        default=uuid.uuid4,
        editable=False,
        help_text="Random id bound into the ciphertext.",
    )
    key_version = models.PositiveIntegerField(
        editable=False, help_text="The client data key version used."
    )
    nonce = models.BinaryField(max_length=12, editable=False)
    # 500 characters of UTF-8 are at most 2,000 bytes, plus the 16-byte tag.
    ciphertext = models.BinaryField(max_length=2016, editable=False)
    last4 = models.CharField(
        max_length=4, blank=True, editable=False, help_text="The tail the mask shows."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.label}: {self.masked}"

    @property
    def masked(self) -> str:
        """The value with all but its last four characters hidden (all of a short one)."""
        return f"•••• {self.last4}".strip()
