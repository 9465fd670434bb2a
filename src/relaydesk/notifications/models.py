"""Notifications: what each person was told about, their choices, and the digests sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from relaydesk.notifications.kinds import KINDS, Email, Kind

KIND_CHOICES = [(kind.value, spec.label) for kind, spec in KINDS.items()]
EMAIL_CHOICES = [(choice.value, choice.label) for choice in Email]


class EmailStatus(models.TextChoices):
    """Where the e-mail of a notification sent on its own ("right away") stands."""

    NONE = "", "Not e-mailed on its own"
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed; tried again later"
    GIVEN_UP = "given_up", "Given up"
    SKIPPED = "skipped", "Not sent: read first, or no longer for its reader"


#: The statuses the sweep still has work for.
EMAIL_OWED = (EmailStatus.PENDING, EmailStatus.SENDING, EmailStatus.FAILED)


class Notification(models.Model):
    """One thing one person is told about one work item.

    The row carries the item's client, so the client wall stands under it: a
    client's people only ever hold notifications of their own client's items.
    ``title`` and ``body`` are written for the recipient when the moment happens
    (a client's never name the provider's people or quote internal notes).
    ``in_app`` says whether it shows in the list and the unread count; ``email``
    is how it is e-mailed, decided from the recipient's choices at that moment,
    and ``emailed_at`` when it was (alone, or in a digest).

    One e-mailed right away is sent by a background task once the row commits:
    ``email_status`` says where it stands, ``email_attempts`` counts the failed
    tries, ``email_tried_at`` is the last one and ``email_error`` says, in
    Relaydesk's own words, why it failed (never the server's answer, which may
    quote an address or a credential).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("work.WorkItem", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, help_text="Where it leads, a path on this site.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    in_app = models.BooleanField(default=True)
    email = models.CharField(max_length=8, choices=EMAIL_CHOICES, default=Email.OFF.value)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Failed attempts to e-mail it right away; retried a few times."
    )
    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.NONE, blank=True
    )
    email_tried_at = models.DateTimeField(
        null=True, blank=True, help_text="When its e-mail was last tried (right away)."
    )
    email_error = models.CharField(
        max_length=200, blank=True, help_text="Why the last try failed, in Relaydesk's words."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The unread count in every page's header reads this index alone.
            models.Index(
                fields=["recipient"],
                name="notification_unread",
                condition=Q(read_at__isnull=True, in_app=True),
            ),
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_list"),
            # The sweep: e-mails still owed (right away, retried; or in a digest).
            models.Index(
                fields=["email", "created_at"],
                name="notification_mail_owed",
                condition=Q(emailed_at__isnull=True) & ~Q(email="off"),
            ),
            # The sweep's retries: the few e-mails sent right away that are still owed.
            models.Index(
                fields=["email_status", "created_at"],
                name="notification_email_due",
                condition=Q(email_status__in=[status.value for status in EMAIL_OWED]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id}: {self.title}"

    @property
    def kind_enum(self) -> Kind:
        """The kind as the enum."""
        return Kind(self.kind)


class NotificationPreference(models.Model):
    """A person's own choice for one kind: shown in Relaydesk or not, and how it is e-mailed.

    Without a row the defaults of the person's role apply
    (:func:`relaydesk.notifications.kinds.default_for`). It is the person's
    setting, not client data, so it carries no client (like an API token).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    in_app = models.BooleanField(default=True)
    email = models.CharField(max_length=8, choices=EMAIL_CHOICES, default=Email.NOW.value)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: in app {self.in_app}, e-mail {self.email}"


class NotificationDigest(models.Model):
    """The daily digest one person was sent on one day of their own calendar.

    At most one per person and day (the unique constraint holds even when two
    sweeps run at once); a digest whose e-mail fails is removed again, so the
    next sweep retries it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_digests"
    )
    day = models.DateField(help_text="The recipient's local date.")
    sent_at = models.DateTimeField(default=timezone.now)
    notifications = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="notification_digest_once_a_day")
        ]

    def __str__(self) -> str:
        return f"Digest for {self.user_id} on {self.day}"
