"""Writing a client's export: a ZIP with the client's records and its decrypted files.

The layout::

    client.json                      the client, its engagements, its users (no password hashes)
    items.jsonl                      one item per line: fields, client-visible timeline and
                                     comments, files, confidential details in full
    files/<reference>/<id>-<name>    each client-visible file, decrypted

Only what the client itself may read goes in: internal timeline entries, internal
comments and internal files stay with the provider.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.utils.text import get_valid_filename

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client, Engagement
from relaydesk.retention.queries import client_attachments, client_users
from relaydesk.vault.actions import CannotDecrypt, ValueOpener, plaintext_of
from relaydesk.work.models import Comment, SensitiveDetail, Visibility, WorkItem, WorkItemEvent

logger = logging.getLogger(__name__)

FORMAT = "relaydesk-client-export"
FORMAT_VERSION = 1


@dataclass
class ExportCounts:
    """What went into one export."""

    engagements: int = 0
    users: int = 0
    items: int = 0
    events: int = 0
    comments: int = 0
    files: int = 0
    file_bytes: int = 0
    purged_files: int = 0
    details: int = 0
    unreadable: list[int] = field(default_factory=list)
    unreadable_details: list[int] = field(default_factory=list)


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)


def _zip_time(at: dt.datetime) -> tuple[int, int, int, int, int, int]:
    utc = at.astimezone(dt.UTC)
    if utc.year < 1980:  # the ZIP format starts in 1980
        return (1980, 1, 1, 0, 0, 0)
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)


def _write_member(
    archive: zipfile.ZipFile, name: str, chunks: Iterator[bytes], at: dt.datetime
) -> None:
    info = zipfile.ZipInfo(name, date_time=_zip_time(at))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as out:
        for chunk in chunks:
            out.write(chunk)


def _engagement(engagement: Engagement) -> dict[str, Any]:
    return {
        "id": engagement.pk,
        "name": engagement.name,
        "services": sorted(s.slug for s in engagement.services.all()),
        "time_zone": engagement.time_zone,
        "coverage": engagement.coverage,
        "allowed_countries": engagement.allowed_countries,
        "required_certification": (
            engagement.required_certification.code if engagement.required_certification else None
        ),
        "pricing_basis": engagement.pricing_basis,
        "rate": engagement.rate,
        "currency": engagement.currency,
        "starts_on": engagement.starts_on,
        "ends_on": engagement.ends_on,
        "document_retention_days": engagement.document_retention_days,
    }


def _user(user: User) -> dict[str, Any]:
    # Never the password hash, MFA secrets or tokens: who the people are, not how they sign in.
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "time_zone": user.time_zone,
        "is_active": user.is_active,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
    }


def client_document(client: Client, *, at: dt.datetime, counts: ExportCounts) -> dict[str, Any]:
    """The content of ``client.json``."""
    engagements = [
        _engagement(e)
        for e in Engagement.objects.filter(client=client)
        .select_related("required_certification")
        .prefetch_related("services")
        .order_by("pk")
    ]
    users = [_user(u) for u in client_users(client)]
    counts.engagements, counts.users = len(engagements), len(users)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": at,
        "client": {
            "id": client.pk,
            "slug": client.slug,
            "name": client.name,
            "industry": client.industry,
            "require_mfa": client.require_mfa,
            "created_at": client.created_at,
        },
        "engagements": engagements,
        "users": users,
    }


def file_path(item: WorkItem, attachment_id: int, name: str) -> str:
    """Where a file goes in the ZIP: ``files/RD-12/34-claim.pdf``."""
    try:
        safe = get_valid_filename(name)[:150] or "file"
    except SuspiciousFileOperation:
        safe = "file"
    return f"files/{item.reference}/{attachment_id}-{safe}"


def _items(client: Client) -> Iterator[WorkItem]:
    return (
        WorkItem.objects.filter(client=client)
        .select_related("engagement", "service", "submitted_by", "owner")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=WorkItemEvent.objects.filter(internal=False).select_related("actor"),
                to_attr="export_events",
            ),
            Prefetch(
                "comments",
                queryset=Comment.objects.filter(visibility=Visibility.CLIENT).select_related(
                    "author"
                ),
                to_attr="export_comments",
            ),
            Prefetch(
                "attachments",
                queryset=client_attachments(client).select_related("uploaded_by"),
                to_attr="export_attachments",
            ),
            "sensitive_details",
        )
        .order_by("pk")
        .iterator(chunk_size=200)
    )


def _detail(detail: SensitiveDetail, opener: ValueOpener, counts: ExportCounts) -> dict[str, Any]:
    """One confidential detail in full (decrypted); one that fails says so instead."""
    entry: dict[str, Any] = {"kind": detail.kind, "label": detail.label}
    try:
        entry["value"] = opener.open(detail)
    except CannotDecrypt as refusal:
        logger.warning(
            "Export: confidential detail %s cannot be decrypted: %s", detail.pk, refusal.reason
        )
        counts.unreadable_details.append(detail.pk)
        entry.update(value=None, masked=detail.masked, note=refusal.message)
    return entry


def _item_record(
    item: WorkItem, files: list[dict[str, Any]], details: list[dict[str, Any]]
) -> dict[str, Any]:
    events: list[WorkItemEvent] = item.export_events  # type: ignore[attr-defined]
    comments: list[Comment] = item.export_comments  # type: ignore[attr-defined]
    return {
        "id": item.pk,
        "reference": item.reference,
        "engagement_id": item.engagement_id,
        "engagement": item.engagement.name,
        "service": item.service.slug,
        "title": item.title,
        "description": item.description,
        "priority": item.get_priority_display(),
        "jurisdiction": item.jurisdiction,
        "language": item.language,
        "external_ref": item.external_ref,
        "due_at": item.due_at,
        "state": item.state,
        "owner": item.owner.full_name if item.owner else None,
        "submitted_by": item.submitted_by.email,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "delivered_at": item.delivered_at,
        "closed_at": item.closed_at,
        "timeline": [
            {
                "at": e.at,
                "kind": e.kind,
                "label": e.label,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "note": e.note,
                "actor": e.actor.full_name if e.actor else "Relaydesk",
                "data": e.data,
            }
            for e in events
        ],
        "comments": [
            {
                "author": c.author.full_name,
                "body": c.body,
                "created_at": c.created_at,
                "purged_at": c.purged_at,
            }
            for c in comments
        ],
        "files": files,
        "confidential_details": details,
    }


def _copy_file(
    archive: zipfile.ZipFile, item: WorkItem, attachment: Any, counts: ExportCounts
) -> dict[str, Any]:
    """Put one file into the ZIP (decrypted) and return its entry for items.jsonl."""
    entry: dict[str, Any] = {
        "id": attachment.pk,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_by": attachment.uploaded_by.full_name,
        "created_at": attachment.created_at,
        "purged_at": attachment.purged_at,
        "path": None,
    }
    if attachment.purged_at is not None:
        counts.purged_files += 1
        entry["note"] = "Deleted under the engagement's retention policy."
        return entry
    try:
        chunks = plaintext_of(attachment)
    except CannotDecrypt as refusal:
        logger.warning(
            "Export: attachment %s cannot be decrypted: %s", attachment.pk, refusal.reason
        )
        counts.unreadable.append(attachment.pk)
        entry["note"] = refusal.message
        return entry
    path = file_path(item, attachment.pk, attachment.original_name)
    info = zipfile.ZipInfo(path, date_time=_zip_time(attachment.created_at))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = attachment.size
    with archive.open(info, "w", force_zip64=True) as out:
        for chunk in chunks:
            out.write(chunk)
    counts.files += 1
    counts.file_bytes += attachment.size
    entry["path"] = path
    return entry


def write_client_zip(client: Client, destination: IO[bytes], *, at: dt.datetime) -> ExportCounts:
    """Write the export of ``client`` into ``destination`` (an open binary file)."""
    counts = ExportCounts()
    opener = ValueOpener()
    with zipfile.ZipFile(destination, "w", allowZip64=True) as archive:
        document = client_document(client, at=at, counts=counts)
        _write_member(archive, "client.json", iter([(_json(document) + "\n").encode()]), at)
        # A ZIP takes one member at a time: files go in as each item is read, and the
        # item lines wait in an unnamed temporary file (memory until it grows large).
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as lines:
            for item in _items(client):
                files = [
                    _copy_file(archive, item, a, counts)
                    for a in item.export_attachments  # type: ignore[attr-defined]
                ]
                details = [_detail(d, opener, counts) for d in item.sensitive_details.all()]
                record = _item_record(item, files, details)
                counts.items += 1
                counts.events += len(record["timeline"])
                counts.comments += len(record["comments"])
                counts.details += len(record["confidential_details"])
                lines.write((_json(record) + "\n").encode())
            lines.seek(0)
            _write_member(archive, "items.jsonl", iter(lambda: lines.read(1024 * 1024), b""), at)
    return counts
