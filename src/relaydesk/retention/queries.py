"""Reads of the data lifecycle: what retention has made due, and what an export holds.

Neither read is for a person's screen of other clients' data: ``expired_items`` is
for the purge job (the system, or a provider admin), ``export_contents`` for a
client's own export, after :func:`relaydesk.retention.actions.check_export`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.lifecycle import State
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

    @property
    def estimated_bytes(self) -> int:
        """An upper estimate of the ZIP's size (files are compressed when they can be)."""
        return self.file_bytes + self.items * ITEM_RECORD_BYTES + 4096


def client_users(client: Client) -> QuerySet[User]:
    """The client's own people."""
    return User.objects.filter(client=client).order_by("pk")


def client_attachments(client: Client) -> QuerySet[Attachment]:
    """The files of the client's items that the client can see (tombstones included)."""
    return Attachment.objects.filter(client=client, visibility=Visibility.CLIENT)


def export_contents(client: Client) -> ExportContents:
    """Count what an export of ``client`` holds: only the client's rows the client may read."""
    files = client_attachments(client)
    live = files.filter(purged_at__isnull=True)
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
    )
