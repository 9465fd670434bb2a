"""Reports on an engagement: kept PDFs of the dashboard for a period, and their schedules.

A report prints what the client dashboard showed for one engagement and period, with the
delivery lead's commentary. Its PDF is stored encrypted with the client's data key
(:mod:`relaydesk.vault`), and the figures it printed are kept beside it (``summary``), so a
report always shows what it said when it was made, however the work moved on since.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

__all__ = ["Frequency", "Report", "ReportKind", "ReportRecipient", "ReportSchedule"]


class Frequency(models.TextChoices):
    """How often a schedule sends its report, and which period each covers."""

    WEEKLY = "weekly", "Weekly, on Mondays (the week before)"
    MONTHLY = "monthly", "Monthly, on the 1st (the month before)"


class ReportKind(models.TextChoices):
    """Whether a report was sent by its schedule or made by someone on demand."""

    SCHEDULED = "scheduled", "Scheduled"
    ON_DEMAND = "on_demand", "On demand"


def report_path(instance: Report, filename: str) -> str:
    """Store PDFs under the client's folder with a random name, never a readable one."""
    return f"reports/{instance.client_id}/{uuid.uuid4().hex}"


class ReportSchedule(models.Model):
    """A report of one engagement e-mailed to chosen people every week or month.

    Each run builds the report of the period that ended last (Monday to Sunday, or the
    month before, in UTC days) once, and e-mails its PDF to the recipients who may still
    see the engagement's reports. ``next_commentary`` is the lead's note for the next
    report; it moves into that report when it is built.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="report_schedules"
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ReportRecipient",
        through_fields=("schedule", "user"),
        related_name="+",
    )
    attach_xlsx = models.BooleanField(
        default=False, help_text="Attach the period's items as a spreadsheet (XLSX) too."
    )
    attach_csv = models.BooleanField(
        default=False, help_text="Attach the period's items as CSV too (a link is always there)."
    )
    next_commentary = models.TextField(
        blank=True, help_text="The lead's note for the next report; it moves into that report."
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["engagement_id", "frequency", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "frequency"],
                condition=Q(active=True),
                name="one_active_report_schedule_per_frequency",
                violation_error_message="This engagement already has a schedule this often.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.engagement} · {self.get_frequency_display()}"

    @property
    def cadence(self) -> str:
        """When it sends, as a sentence ends: "every Monday", "on the 1st of each month"."""
        return "every Monday" if self.frequency == Frequency.WEEKLY else "on the 1st of each month"


class ReportRecipient(models.Model):
    """One person a schedule e-mails its reports to (a client's person or the provider's)."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    schedule = models.ForeignKey(
        ReportSchedule, on_delete=models.CASCADE, related_name="recipient_rows"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["schedule_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "user"], name="one_report_recipient_row_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule} → {self.user}"


class Report(models.Model):
    """One engagement's report for a period of UTC days, ``period_start`` to ``period_end``.

    The PDF is ciphertext (``relaydesk.vault``): encrypted with the client's data key
    version ``key_version`` and bound to the client and ``encryption_id``; ``pdf_size`` and
    ``pdf_sha256`` describe the plaintext. ``summary`` holds every figure the PDF printed
    (headline figures, objectives, charts), so the PDF is rebuilt from it, never from
    today's figures, when the commentary changes. A scheduled report is made at most once
    per schedule and period; ``sent_at`` says when it was e-mailed and ``recipients`` to
    whom.

    Past the engagement's ``document_retention_days`` (counted from ``created_at``) the
    retention purge deletes the PDF's file and the commentary; the row stays as a
    tombstone with ``purged_at`` set, its period, figures, size and SHA-256.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="reports"
    )
    schedule = models.ForeignKey(
        ReportSchedule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    kind = models.CharField(max_length=10, choices=ReportKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who made it on demand; empty for a scheduled report.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    commentary = models.TextField(blank=True)
    commentary_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    commentary_at = models.DateTimeField(null=True, blank=True)
    pdf = models.FileField(upload_to=report_path, max_length=255)
    pdf_size = models.PositiveBigIntegerField(default=0)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    encryption_id = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Random id bound into the PDF's ciphertext.",
    )
    key_version = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="The client data key version used."
    )
    summary = models.JSONField(default=dict)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    recipients = models.JSONField(
        default=list, blank=True, help_text="The addresses it was e-mailed to."
    )
    purged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the PDF and commentary were deleted under the engagement's retention.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=Q(schedule__isnull=False),
                name="one_report_per_schedule_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="report_period_in_order",
            ),
        ]
        indexes = [models.Index(fields=["client", "-created_at"], name="report_client_recent")]

    def __str__(self) -> str:
        return f"{self.engagement} {self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d}"

    @property
    def status(self) -> str:
        """Where the report stands, as a word: ``purged`` (deleted under retention),
        ``sent`` (a scheduled report e-mailed), ``not_sent`` (a scheduled report not
        e-mailed yet, or given up), ``ready`` (made on demand)."""
        if self.purged_at is not None:
            return "purged"
        if self.kind == ReportKind.SCHEDULED:
            return "sent" if self.sent_at is not None else "not_sent"
        return "ready"

    @property
    def is_sent(self) -> bool:
        """The report was e-mailed."""
        return self.sent_at is not None

    def file_stem(self) -> str:
        """A download's name without extension: engagement and period, safe for any system."""
        from django.utils.text import slugify

        name = slugify(self.engagement.name) or "engagement"
        return f"report-{name}-{self.period_start:%Y%m%d}-{self.period_end:%Y%m%d}"
