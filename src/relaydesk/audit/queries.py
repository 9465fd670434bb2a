"""Reads of the audit trail across the permission boundary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.roles import Role
from relaydesk.work.models import Attachment, Comment, Visibility, WorkItem
from relaydesk.work.queries import visible_work_items

# Lifecycle actions clients do not see on an item's timeline either.
INTERNAL_ACTIONS = (
    "work_item.assign",
    "work_item.take",
    "work_item.release",
    "work_item.return_for_rework",
)
# The provider's quality assurance (scorecards, sampling, reviews, disputes, calibration):
# clients see its outcome on the timeline and in their quality figures, not who scored what.
QUALITY_ACTIONS = "quality."
QUALITY_OBJECTS = (
    "Scorecard",
    "ScorecardVersion",
    "SamplingRule",
    "Review",
    "Dispute",
    "CalibrationSession",
    "CalibrationItem",
    "CalibrationScore",
)


def visible_audit_records(actor: User) -> QuerySet[AuditRecord]:
    """The audit records ``actor`` may read.

    A client admin reads their own client's records, except those about
    things the client never sees elsewhere: internal timeline entries (assign,
    take, release, a reviewer's return for rework), internal comments and
    attachments, and the provider's quality assurance (its actions, and refusals
    on its objects). A provider admin reads everything (in the back office);
    everyone else nothing.
    """
    records = AuditRecord.objects.all()
    if actor.role_enum is Role.PROVIDER_ADMIN:
        return records
    if actor.role_enum is not Role.CLIENT_ADMIN or actor.client_id is None:
        return records.none()
    internal_comments = Comment.objects.filter(
        client_id=actor.client_id, visibility=Visibility.INTERNAL
    ).values(text_id=Cast("pk", CharField()))
    internal_files = Attachment.objects.filter(
        client_id=actor.client_id, visibility=Visibility.INTERNAL
    ).values(text_id=Cast("pk", CharField()))
    return (
        records.filter(client_id=actor.client_id)
        .exclude(action__in=INTERNAL_ACTIONS)
        .exclude(action__startswith=QUALITY_ACTIONS)
        .exclude(object_type__in=QUALITY_OBJECTS)
        .exclude(Q(object_type="Comment", object_id__in=internal_comments))
        .exclude(Q(object_type="Attachment", object_id__in=internal_files))
    )


def filter_records(
    records: QuerySet[AuditRecord],
    *,
    action: str = "",
    actor_id: int | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[AuditRecord]:
    """Narrow ``records`` by action, person and a time range ``[start, end)``."""
    if action:
        records = records.filter(action=action)
    if actor_id is not None:
        records = records.filter(actor_id=actor_id)
    if start is not None:
        records = records.filter(at__gte=start)
    if end is not None:
        records = records.filter(at__lt=end)
    return records


def linkable_items(actor: User, records: Iterable[AuditRecord]) -> dict[str, WorkItem]:
    """The work items among ``records``' objects that ``actor`` may open, by object id."""
    ids = {r.object_id for r in records if r.object_type == "WorkItem" and r.object_id.isdigit()}
    items = visible_work_items(actor).filter(pk__in=[int(i) for i in ids])
    return {str(item.pk): item for item in items}
