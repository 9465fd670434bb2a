"""Reads of the data lifecycle: what retention has made due, and what an export holds.

None of these reads is for a person's screen of other clients' data: ``expired_*`` are
for the purge job (the system, or a provider admin), ``export_contents`` and the
``client_*`` reads for a client's own export, after
:func:`relaydesk.retention.actions.check_export`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.lifecycle import State
from relaydesk.insights.report_models import Report, ReportSchedule
from relaydesk.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from relaydesk.work.models import (
    Attachment,
    Comment,
    SensitiveDetail,
    Visibility,
    WorkItem,
    WorkItemEvent,
)

CLOSED_STATES = [State.ACCEPTED.value, State.CANCELLED.value]

# Rough size of one item's record in items.jsonl, for the estimate shown before an export.
ITEM_RECORD_BYTES = 2048


def retention_cutoffs(*, now: dt.datetime) -> dict[int, tuple[int, dt.datetime]]:
    """Per engagement with a retention: (days, the latest closing time that is due)."""
    kept = Engagement.objects.filter(document_retention_days__isnull=False)
    return {
        engagement_id: (days, now - dt.timedelta(days=days))
        for engagement_id, days in kept.values_list("pk", "document_retention_days")
        if days is not None
    }


def is_expired(item: WorkItem, *, now: dt.datetime) -> bool:
    """True when ``item`` is closed and its engagement's retention has run out."""
    days = item.engagement.document_retention_days
    return (
        days is not None
        and item.state in CLOSED_STATES
        and item.closed_at is not None
        and item.closed_at <= now - dt.timedelta(days=days)
    )


def has_leftovers() -> Q:
    """Items that still hold something retention deletes: a file, a confidential value, text
    (the description or a comment's body)."""
    return (
        Q(Exists(Attachment.objects.filter(item=OuterRef("pk"), purged_at__isnull=True)))
        | Q(Exists(SensitiveDetail.objects.filter(item=OuterRef("pk"))))
        | Q(Exists(Comment.objects.filter(item=OuterRef("pk"), purged_at__isnull=True)))
        | ~Q(description="")
    )


def expired_items(*, now: dt.datetime) -> QuerySet[WorkItem]:
    """Closed items past their engagement's retention that still hold something to delete.

    Items already purged drop out, so the purge is idempotent; oldest closed first.
    """
    due = Q()
    for engagement_id, (_, cutoff) in retention_cutoffs(now=now).items():
        due |= Q(engagement_id=engagement_id, closed_at__lte=cutoff)
    if not due:
        return WorkItem.objects.none()
    return (
        WorkItem.objects.filter(due, state__in=CLOSED_STATES, closed_at__isnull=False)
        .filter(has_leftovers())
        .select_related("client", "engagement")
        .order_by("closed_at", "pk")
    )


def is_report_expired(report: Report, *, now: dt.datetime) -> bool:
    """True when the engagement's retention has run out since ``report`` was made."""
    days = report.engagement.document_retention_days
    return days is not None and report.created_at <= now - dt.timedelta(days=days)


def expired_reports(*, now: dt.datetime) -> QuerySet[Report]:
    """Reports made longer ago than their engagement's retention that still hold their PDF.

    A report's clock starts when it is made (it is finished then, as an item is when it
    closes). Reports already purged drop out, so the purge is idempotent; oldest first.
    """
    due = Q()
    for engagement_id, (_, cutoff) in retention_cutoffs(now=now).items():
        due |= Q(engagement_id=engagement_id, created_at__lte=cutoff)
    if not due:
        return Report.objects.none()
    return (
        Report.objects.filter(due, purged_at__isnull=True)
        .select_related("client", "engagement")
        .order_by("created_at", "pk")
    )


def finished_deliveries() -> Q:
    """Deliveries that will not be sent again: succeeded, given up, or a failed test event
    (the webhooks' own sweep deletes the same ones after 30 days)."""
    return Q(state__in=[DeliveryState.SUCCEEDED, DeliveryState.GIVEN_UP]) | Q(
        state=DeliveryState.FAILED, next_attempt_at__isnull=True
    )


def expired_deliveries(*, now: dt.datetime) -> QuerySet[WebhookDelivery]:
    """Finished webhook deliveries older than their endpoint's engagement's retention."""
    due = Q()
    for engagement_id, (_, cutoff) in retention_cutoffs(now=now).items():
        due |= Q(endpoint__engagement_id=engagement_id, created_at__lte=cutoff)
    if not due:
        return WebhookDelivery.objects.none()
    return WebhookDelivery.objects.filter(due).filter(finished_deliveries())


def expired_delivery_logs(*, now: dt.datetime) -> dict[int, int]:
    """Per endpoint with expired deliveries (:func:`expired_deliveries`): how many."""
    counted = (
        expired_deliveries(now=now)
        .order_by()
        .values("endpoint_id")
        .annotate(deliveries=Count("pk"))
        .values_list("endpoint_id", "deliveries")
    )
    return dict(sorted(counted))


@dataclass(frozen=True, slots=True)
class ExportContents:
    """What a client's export will hold, counted before it is written."""

    engagements: int
    users: int
    items: int
    events: int
    comments: int
    files: int
    file_bytes: int
    purged_files: int
    details: int
    reports: int = 0
    report_bytes: int = 0
    purged_reports: int = 0
    schedules: int = 0
    webhook_endpoints: int = 0
    webhook_deliveries: int = 0

    @property
    def estimated_bytes(self) -> int:
        """An upper estimate of the ZIP's size (files are compressed when they can be)."""
        records = self.items + self.reports + self.webhook_deliveries
        return self.file_bytes + self.report_bytes + records * ITEM_RECORD_BYTES + 4096


def client_users(client: Client) -> QuerySet[User]:
    """The client's own people."""
    return User.objects.filter(client=client).order_by("pk")


def client_attachments(client: Client) -> QuerySet[Attachment]:
    """The files of the client's items that the client can see (tombstones included)."""
    return Attachment.objects.filter(client=client, visibility=Visibility.CLIENT)


def client_reports(client: Client) -> QuerySet[Report]:
    """The client's kept reports (tombstones included), oldest first."""
    return (
        Report.objects.filter(client=client)
        .select_related("engagement__client", "created_by")
        .order_by("created_at", "pk")
    )


def client_schedules(client: Client) -> QuerySet[ReportSchedule]:
    """The client's report schedules, active and paused."""
    return (
        ReportSchedule.objects.filter(client=client)
        .select_related("engagement", "created_by")
        .prefetch_related("recipients")
        .order_by("pk")
    )


def client_endpoints(client: Client) -> QuerySet[WebhookEndpoint]:
    """The client's webhook endpoints."""
    return (
        WebhookEndpoint.objects.filter(client=client)
        .select_related("engagement", "created_by")
        .order_by("pk")
    )


def client_deliveries(client: Client) -> QuerySet[WebhookDelivery]:
    """The delivery log of the client's webhook endpoints, oldest first."""
    return WebhookDelivery.objects.filter(client=client).order_by("endpoint_id", "created_at", "pk")


def export_contents(client: Client) -> ExportContents:
    """Count what an export of ``client`` holds: only the client's rows the client may read."""
    files = client_attachments(client)
    live = files.filter(purged_at__isnull=True)
    reports = Report.objects.filter(client=client)
    kept = reports.filter(purged_at__isnull=True)
    return ExportContents(
        engagements=Engagement.objects.filter(client=client).count(),
        users=client_users(client).count(),
        items=WorkItem.objects.filter(client=client).count(),
        events=WorkItemEvent.objects.filter(client=client, internal=False).count(),
        comments=Comment.objects.filter(client=client, visibility=Visibility.CLIENT).count(),
        files=live.count(),
        file_bytes=live.aggregate(total=Sum("size"))["total"] or 0,
        purged_files=files.filter(purged_at__isnull=False).count(),
        details=SensitiveDetail.objects.filter(client=client).count(),
        reports=reports.count(),
        report_bytes=kept.aggregate(total=Sum("pdf_size"))["total"] or 0,
        purged_reports=reports.filter(purged_at__isnull=False).count(),
        schedules=ReportSchedule.objects.filter(client=client).count(),
        webhook_endpoints=WebhookEndpoint.objects.filter(client=client).count(),
        webhook_deliveries=WebhookDelivery.objects.filter(client=client).count(),
    )
