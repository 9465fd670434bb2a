"""Writing a client's export: a ZIP with the client's records and its decrypted files.

The layout::

    client.json                      the client, its engagements, its users (no password hashes)
    items.jsonl                      one item per line: fields, client-visible timeline and
                                     comments, files, confidential details in full
    files/<reference>/<id>-<name>    each client-visible file, decrypted
    reports.jsonl                    one report per line: period, status, commentary, the
                                     figures it printed, its files
    reports/<id>-<name>.pdf          each kept report's PDF, decrypted (a report's items
                                     are those of items.jsonl in its period)
    report_schedules.json            the report schedules
    webhooks.json                    the webhook endpoints, never their signing secrets
    webhook_deliveries.jsonl         the endpoints' delivery log, one delivery per line

Only what the client itself may read goes in: internal timeline entries, internal
comments and internal files stay with the provider, as do the names of the provider's
people on reports and schedules (as the reports pages show them to a client).
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
from relaydesk.insights.report_actions import pdf_of
from relaydesk.insights.report_models import Report, ReportKind, ReportSchedule
from relaydesk.retention.queries import (
    client_attachments,
    client_deliveries,
    client_endpoints,
    client_reports,
    client_schedules,
    client_users,
)
from relaydesk.vault.actions import CannotDecrypt, ValueOpener, plaintext_of
from relaydesk.webhooks.models import WebhookDelivery, WebhookEndpoint
from relaydesk.work.models import Comment, SensitiveDetail, Visibility, WorkItem, WorkItemEvent

logger = logging.getLogger(__name__)

FORMAT = "relaydesk-client-export"
# 2: reports, report schedules and webhooks joined the items.
FORMAT_VERSION = 2
#: What webhooks.json says of the secrets it leaves out.
SECRETS_LEFT_OUT = (
    "Signing secrets are left out of the export: they stay encrypted in Relaydesk. Roll an "
    "endpoint's secret (Webhooks › the endpoint › Roll secret) to get a new one."
)
PROVIDER = "the provider"


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
    reports: int = 0
    report_files: int = 0
    report_bytes: int = 0
    purged_reports: int = 0
    unreadable_reports: list[int] = field(default_factory=list)
    schedules: int = 0
    webhook_endpoints: int = 0
    webhook_deliveries: int = 0


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


# -- reports -------------------------------------------------------------------------------


def _person(person: User | None) -> str | None:
    """A person as the reports pages name them to a client: the provider's by side only."""
    if person is None:
        return None
    if not person.is_client_user:
        return PROVIDER
    return person.full_name or person.email


def _addresses(addresses: list[str], own: set[str]) -> dict[str, Any]:
    """The client's own people among ``addresses``, and how many others (the provider's)."""
    mine = [a for a in addresses if a in own]
    return {"to": mine, "provider_recipients": len(addresses) - len(mine)}


def _report_member(
    archive: zipfile.ZipFile,
    name: str,
    chunks: Iterator[bytes],
    at: dt.datetime,
    counts: ExportCounts,
) -> str:
    """Write one of a report's files into the ZIP, counting its bytes; its path."""

    def counted() -> Iterator[bytes]:
        for chunk in chunks:
            counts.report_bytes += len(chunk)
            yield chunk

    _write_member(archive, name, counted(), at)
    counts.report_files += 1
    return name


def _report_files(archive: zipfile.ZipFile, report: Report, counts: ExportCounts) -> dict[str, Any]:
    """Put the report's PDF (decrypted) into the ZIP; its entry."""
    stem = f"reports/{report.pk}-{report.file_stem()}"
    made = report.created_at
    files: dict[str, Any] = {
        "pdf": None,
        "pdf_size": report.pdf_size,
        "pdf_sha256": report.pdf_sha256,
    }
    if report.purged_at is not None:
        counts.purged_reports += 1
        files["note"] = "Deleted under the engagement's retention policy."
        return files
    try:
        pdf = pdf_of(report)
    except CannotDecrypt as refusal:
        logger.warning("Export: report %s cannot be decrypted: %s", report.pk, refusal.reason)
        counts.unreadable_reports.append(report.pk)
        files["note"] = refusal.message
    else:
        files["pdf"] = _report_member(archive, f"{stem}.pdf", iter([pdf]), made, counts)
    return files


def _report_record(report: Report, files: dict[str, Any], own: set[str]) -> dict[str, Any]:
    return {
        "id": report.pk,
        "engagement_id": report.engagement_id,
        "engagement": report.engagement.name,
        "kind": report.kind,
        "schedule_id": report.schedule_id,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "status": report.status,
        "created_at": report.created_at,
        "created_by": (None if report.kind == ReportKind.SCHEDULED else _person(report.created_by)),
        "commentary": report.commentary,
        "commentary_at": report.commentary_at,
        "sent_at": report.sent_at,
        "sent": _addresses(list(report.recipients), own),
        "purged_at": report.purged_at,
        "files": files,
        "figures": report.summary,
    }


def _schedule_record(schedule: ReportSchedule, own: set[str]) -> dict[str, Any]:
    people = [p.email for p in schedule.recipients.all()]
    return {
        "id": schedule.pk,
        "engagement_id": schedule.engagement_id,
        "engagement": schedule.engagement.name,
        "frequency": schedule.frequency,
        "sends": schedule.cadence,
        "active": schedule.active,
        "attach_xlsx": schedule.attach_xlsx,
        "attach_csv": schedule.attach_csv,
        "recipients": _addresses(people, own),
        "created_by": _person(schedule.created_by),
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    }


def _write_reports(
    archive: zipfile.ZipFile, client: Client, *, at: dt.datetime, counts: ExportCounts
) -> None:
    own = set(client_users(client).values_list("email", flat=True))
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as lines:
        for report in client_reports(client).iterator(chunk_size=100):
            files = _report_files(archive, report, counts)
            lines.write((_json(_report_record(report, files, own)) + "\n").encode())
            counts.reports += 1
        lines.seek(0)
        _write_member(archive, "reports.jsonl", iter(lambda: lines.read(1024 * 1024), b""), at)
    schedules = [_schedule_record(s, own) for s in client_schedules(client)]
    counts.schedules = len(schedules)
    document = _json({"schedules": schedules}) + "\n"
    _write_member(archive, "report_schedules.json", iter([document.encode()]), at)


# -- webhooks ------------------------------------------------------------------------------


def _endpoint_record(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # Never the secret, its encrypted form or its hint: see SECRETS_LEFT_OUT.
    return {
        "id": endpoint.pk,
        "engagement_id": endpoint.engagement_id,
        "engagement": endpoint.engagement.name,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_labels,
        "active": endpoint.active,
        "created_by": endpoint.created_by.email if endpoint.created_by else None,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "secret_rolled_at": endpoint.secret_rolled_at,
    }


def _delivery_record(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "payload": delivery.payload,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_response_ms": delivery.last_response_ms,
        "created_at": delivery.created_at,
    }


def _write_webhooks(
    archive: zipfile.ZipFile, client: Client, *, at: dt.datetime, counts: ExportCounts
) -> None:
    endpoints = [_endpoint_record(e) for e in client_endpoints(client)]
    counts.webhook_endpoints = len(endpoints)
    document = _json({"secrets": SECRETS_LEFT_OUT, "endpoints": endpoints}) + "\n"
    _write_member(archive, "webhooks.json", iter([document.encode()]), at)

    def lines() -> Iterator[bytes]:
        for delivery in client_deliveries(client).iterator(chunk_size=500):
            counts.webhook_deliveries += 1
            yield (_json(_delivery_record(delivery)) + "\n").encode()

    _write_member(archive, "webhook_deliveries.jsonl", lines(), at)


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
        _write_reports(archive, client, at=at, counts=counts)
        _write_webhooks(archive, client, at=at, counts=counts)
    return counts
