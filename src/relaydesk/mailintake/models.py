"""E-mail intake: each engagement's intake address, every message taken in, and the quarantine.

Rows that belong to a client carry it, so the row-security wall keeps them
apart; a quarantined message whose client could not be told carries none and
is seen by the provider only.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone

LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def intake_domain() -> str:
    """The domain every intake address is at (``RELAYDESK_INTAKE_DOMAIN``)."""
    return str(getattr(settings, "RELAYDESK_INTAKE_DOMAIN", "intake.relaydesk.test")).lower()


def validate_local_part(value: str) -> None:
    """An intake address's part before the @: lower-case letters, digits, dots, dashes."""
    if not LOCAL_PART.match(value):
        raise ValidationError(
            "Use 1-64 lower-case letters, digits, dots, dashes or underscores, "
            "starting and ending with a letter or digit (e.g. hartwell-claims)."
        )


def validate_domains(value: object) -> None:
    """A list of sender domains such as ``hartwell-law.com``."""
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ValidationError("Give a list of domains.")
    bad = [d for d in value if not DOMAIN.match(d)]
    if bad:
        raise ValidationError(f"Not a domain: {', '.join(bad[:5])} (use e.g. hartwell-law.com).")


class IntakeAddress(models.Model):
    """An engagement's e-mail address: mail to it becomes work items of its client.

    The address is ``local_part@RELAYDESK_INTAKE_DOMAIN``. Mail from an active
    user of the client is filed as that user; mail from other people at one of
    ``allowed_sender_domains`` is filed as ``submit_as`` (one of the client's
    users), naming the sender. Everything else is quarantined.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.OneToOneField(
        "clients.Engagement", on_delete=models.PROTECT, related_name="intake_address"
    )
    local_part = models.CharField(
        max_length=64,
        unique=True,
        validators=[validate_local_part],
        help_text="The part before the @, e.g. hartwell-claims.",
    )
    service = models.ForeignKey(
        "catalog.Service",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The service new items are filed under (one the engagement covers).",
    )
    jurisdiction = models.CharField(
        max_length=10,
        blank=True,
        help_text="ISO 3166-2 code such as US-FL for new items; required where the engagement "
        "is tied to a jurisdiction.",
    )
    active = models.BooleanField(
        default=True, help_text="Switched off, mail to the address is quarantined."
    )
    allowed_sender_domains = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_domains],
        help_text="Other people at these domains may send work too; it is filed as the "
        "'submit as' user, naming the sender.",
    )
    submit_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The client's user that mail from the allowed domains is filed as.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["local_part"]
        verbose_name_plural = "intake addresses"

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        """The full address people write to, e.g. hartwell-claims@intake.example.com."""
        return f"{self.local_part}@{intake_domain()}"


class Result(models.TextChoices):
    """What became of a message."""

    CREATED = "created", "New work item"
    COMMENTED = "commented", "Reply on an item"
    QUARANTINED = "quarantined", "Quarantined"


class IngestedMessage(models.Model):
    """One message intake has seen, so that the same message is never filed twice.

    ``dedupe_key`` is a SHA-256 of the Message-ID and sender (of the bytes when
    there is no Message-ID); ``message_id_hash`` lets replies find the item a
    message created or commented on through In-Reply-To and References.
    """

    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dedupe_key = models.CharField(max_length=64, unique=True)
    message_id_hash = models.CharField(max_length=64, blank=True, db_index=True)
    result = models.CharField(max_length=12, choices=Result.choices)
    item = models.ForeignKey(
        "work.WorkItem", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    comment = models.ForeignKey(
        "work.Comment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quarantined = models.OneToOneField(
        "mailintake.QuarantinedMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ingested",
    )
    source = models.CharField(max_length=200, blank=True, help_text="Where it was read from.")
    ingested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-ingested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_result_display()} at {self.ingested_at:%Y-%m-%d %H:%M}"


class Reason(models.TextChoices):
    """Why a message was quarantined."""

    UNPARSEABLE = "unparseable", "Unreadable message"
    EMPTY = "empty", "Empty message"
    OVERSIZE = "oversize", "Message too large"
    NO_INTAKE_ADDRESS = "no_address", "No known intake address"
    INTAKE_OFF = "intake_off", "Intake address switched off"
    AUTOMATIC = "automatic", "Automatic message"
    UNVERIFIED = "unverified", "Sender not verified"
    UNKNOWN_SENDER = "unknown_sender", "Unknown sender"
    ATTACHMENT_REFUSED = "attachment", "Attachment refused"
    TOO_LONG = "too_long", "Text too long"
    CROSS_CLIENT = "cross_client", "Names another client's item"
    UNKNOWN_ITEM = "unknown_item", "Names no known item"
    REFUSED = "refused", "Refused by intake"
    ERROR = "error", "Could not be processed"


class QuarantineState(models.TextChoices):
    """Where a quarantined message stands."""

    HELD = "held", "Held"
    RELEASED = "released", "Released (filed)"
    DISCARDED = "discarded", "Discarded"


def quarantine_storage() -> FileSystemStorage:
    """Raw quarantined messages: under MEDIA_ROOT, readable by the owner only."""
    return FileSystemStorage(file_permissions_mode=0o600, directory_permissions_mode=0o700)


class QuarantineDataKey(models.Model):
    """The provider's data key for quarantined mail whose client is not known, wrapped by
    the master key.

    A message addressed to no intake address (or one whose recipients cannot be
    read) belongs to no client yet, so no client's data key can encrypt it; this
    key does. Like a client's data key it is never stored in the clear:
    ``wrapped_key`` is its AES-GCM encryption under the master key named by
    ``master_key_id``, with associated data naming its purpose and version, and
    ``relaydesk keys rotate`` re-wraps it with the client keys (``rewrapped_at``).
    """

    version = models.PositiveIntegerField(unique=True, default=1)
    wrapped_key = models.BinaryField(max_length=128)
    master_key_id = models.CharField(
        max_length=32, help_text="The id of the master key that wraps this key (not the key)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["version"]

    def __str__(self) -> str:
        return f"quarantine data key v{self.version} ({self.master_key_id})"


class QuarantinedMessage(models.Model):
    """A message that was not filed, kept with the reason until someone retries or discards it.

    The raw message is kept in ``raw`` (under MEDIA_ROOT/quarantine/, mode 0600),
    always encrypted: with the client's data key when the client is known, with
    the provider's :class:`QuarantineDataKey` otherwise (``provider_key``; a
    message addressed to no intake address belongs to no client yet).
    ``encryption_id`` is bound into the ciphertext, so a file copied to another
    row does not decrypt there; ``key_version`` names the key's version. Sender,
    recipients and subject are kept in the clear so the quarantine can be
    listed. Retrying or discarding deletes the raw message; the row stays as a
    record.
    """

    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    intake_address = models.ForeignKey(
        IntakeAddress, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason_code = models.CharField(max_length=16, choices=Reason.choices)
    reason = models.CharField(max_length=500)
    state = models.CharField(
        max_length=10, choices=QuarantineState.choices, default=QuarantineState.HELD
    )
    received_at = models.DateTimeField(default=timezone.now)
    sender = models.CharField("from", max_length=320, blank=True)
    recipients = models.CharField("to", max_length=1000, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where it was read from.")
    raw = models.FileField(storage=quarantine_storage, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    encryption_id = models.UUIDField(
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Random id bound into the ciphertext of the raw message.",
    )
    key_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    provider_key = models.BooleanField(
        default=False,
        editable=False,
        help_text="Encrypted with the provider's quarantine key: no client was known.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    item = models.ForeignKey(
        "work.WorkItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The item the message was filed on when released.",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["state", "-received_at"], name="quarantine_state_recent")]

    def __str__(self) -> str:
        return f"{self.sender or 'unknown sender'}: {self.subject or '(no subject)'}"
