"""The data lifecycle's writes: purging what retention made due, and exporting a client.

``do_purge_expired`` deletes, for every closed item past its engagement's
``document_retention_days``, the stored files (the Attachment rows stay as
tombstones with ``purged_at``), the confidential details, the description and
the comments' bodies (the Comment rows stay with author, time and ``purged_at``),
each item in its own transaction with a ``purged`` timeline event and a
``retention.purge`` audit record. Reports are treated as documents: past the
retention since they were made, their PDF's file and commentary go (the Report row
stays as a tombstone with ``purged_at``), each with its ``retention.purge`` record.
Finished webhook deliveries older than the retention are deleted, with one
``retention.purge`` record per endpoint. One ``retention.purge_run`` record sums up
the run. ``do_schedule_daily_purge`` (each sweep of the worker's loop) queues the day's
purge once, and ``do_run_daily_purge`` (the worker's task) runs it, never two at once.
``do_export_client`` writes a client's data as a ZIP and records
``client.export``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Client
from relaydesk.core.permissions import Permission, can
from relaydesk.core.roles import Role
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.insights.report_models import Report
from relaydesk.retention.export import ExportCounts, write_client_zip
from relaydesk.retention.models import DailyPurge, DailyPurgeState
from relaydesk.retention.queries import (
    expired_deliveries,
    expired_delivery_logs,
    expired_items,
    expired_reports,
    is_expired,
    is_report_expired,
    retention_cutoffs,
)
from relaydesk.webhooks.models import WebhookEndpoint
from relaydesk.work.models import Attachment, Comment, SensitiveDetail, WorkItem, WorkItemEvent

logger = logging.getLogger(__name__)


def purge_note(days: int) -> str:
    """The sentence on the item's timeline."""
    return (
        "Documents, comments and confidential details deleted under the engagement's "
        f"{days}-day retention."
    )


@dataclass(frozen=True, slots=True)
class PurgedItem:
    """One item the purge deleted from (or, in a dry run, would delete from)."""

    item_id: int
    reference: str
    client: str
    engagement: str
    closed_at: dt.datetime
    retention_days: int
    files: int
    file_bytes: int
    details: int
    description: bool
    comments: int = 0


@dataclass(frozen=True, slots=True)
class PurgedReport:
    """One report whose PDF and commentary the purge deleted (or, dry, would delete)."""

    report_id: int
    client: str
    engagement: str
    period_start: dt.date
    period_end: dt.date
    created_at: dt.datetime
    retention_days: int
    pdf_bytes: int
    commentary: bool


@dataclass(frozen=True, slots=True)
class PurgedDeliveries:
    """One webhook endpoint whose old deliveries the purge deleted (or would delete)."""

    endpoint_id: int
    client: str
    engagement: str
    retention_days: int
    deliveries: int


@dataclass
class PurgeRun:
    """What one run of the purge did."""

    dry_run: bool
    at: dt.datetime
    purged: list[PurgedItem] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    reports: list[PurgedReport] = field(default_factory=list)
    delivery_logs: list[PurgedDeliveries] = field(default_factory=list)

    @property
    def report_bytes(self) -> int:
        """Plaintext bytes of the report PDFs deleted."""
        return sum(r.pdf_bytes for r in self.reports)

    @property
    def deliveries(self) -> int:
        """Webhook deliveries deleted from the logs."""
        return sum(d.deliveries for d in self.delivery_logs)

    @property
    def files(self) -> int:
        """Files deleted."""
        return sum(p.files for p in self.purged)

    @property
    def file_bytes(self) -> int:
        """Plaintext bytes of the files deleted."""
        return sum(p.file_bytes for p in self.purged)

    @property
    def details(self) -> int:
        """Confidential details deleted."""
        return sum(p.details for p in self.purged)

    @property
    def comments(self) -> int:
        """Comment bodies deleted."""
        return sum(p.comments for p in self.purged)


Progress = Callable[[int, int, PurgedItem | None], None]


def _what(item: WorkItem, files: list[Attachment], details: int, comments: int) -> PurgedItem:
    days = item.engagement.document_retention_days
    assert days is not None and item.closed_at is not None
    return PurgedItem(
        item_id=item.pk,
        reference=item.reference,
        client=item.client.name,
        engagement=item.engagement.name,
        closed_at=item.closed_at,
        retention_days=days,
        files=len(files),
        file_bytes=sum(a.size for a in files),
        details=details,
        description=bool(item.description),
        comments=comments,
    )


def _anything(found: PurgedItem) -> bool:
    return bool(found.files or found.details or found.description or found.comments)


def _live_comments(item: WorkItem) -> models.QuerySet[Comment]:
    return Comment.objects.filter(item=item, purged_at__isnull=True)


def _preview(item_id: int, now: dt.datetime) -> PurgedItem | None:
    item = WorkItem.objects.select_related("client", "engagement").filter(pk=item_id).first()
    if item is None or not is_expired(item, now=now):
        return None
    files = list(item.attachments.filter(purged_at__isnull=True))
    found = _what(item, files, item.sensitive_details.count(), _live_comments(item).count())
    return found if _anything(found) else None


def _purge_item(actor: User | None, item_id: int, now: dt.datetime) -> PurgedItem | None:
    """Purge one item in its own transaction; None when nothing (or no longer anything) is due.

    The stored files are deleted last, so a file that cannot be deleted rolls the
    item back and the next run tries again (a file already gone counts as deleted).
    """
    with transaction.atomic():
        item = (
            WorkItem.objects.select_for_update(of=("self",))
            .select_related("client", "engagement")
            .filter(pk=item_id)
            .first()
        )
        if item is None or not is_expired(item, now=now):
            return None
        files = list(item.attachments.select_for_update().filter(purged_at__isnull=True))
        details = SensitiveDetail.objects.filter(item=item)
        comments = _live_comments(item)
        done = _what(item, files, details.count(), comments.count())
        if not _anything(done):
            return None
        stored = [(a.file.storage, a.file.name) for a in files if a.file.name]
        for attachment in files:
            attachment.purged_at = now
            attachment.file.name = ""
            attachment.save(update_fields=["purged_at", "file"])
        details.delete()
        # Who wrote when stays (the timeline points at these rows); what they wrote goes.
        comments.update(body="", purged_at=now)
        item.description = ""
        item.save(update_fields=["description"])
        WorkItemEvent.objects.create(
            client_id=item.client_id,
            item=item,
            at=now,
            actor=actor,
            kind="purged",
            note=purge_note(done.retention_days),
            internal=False,
            data={"files": done.files, "details": done.details, "comments": done.comments},
        )
        record(
            actor=actor,
            action="retention.purge",
            obj=item,
            client=item.client_id,
            at=now,
            detail={
                "reference": item.reference,
                "engagement": item.engagement_id,
                "retention_days": done.retention_days,
                "closed_at": done.closed_at.isoformat(),
                "files": done.files,
                "bytes": done.file_bytes,
                "details": done.details,
                "description": done.description,
                "comments": done.comments,
            },
        )
        for storage, name in stored:
            storage.delete(name)
    return done


def _report_what(report: Report) -> PurgedReport:
    days = report.engagement.document_retention_days
    assert days is not None
    return PurgedReport(
        report_id=report.pk,
        client=report.client.name,
        engagement=report.engagement.name,
        period_start=report.period_start,
        period_end=report.period_end,
        created_at=report.created_at,
        retention_days=days,
        pdf_bytes=report.pdf_size,
        commentary=bool(report.commentary),
    )


def _purge_report(actor: User | None, report_id: int, now: dt.datetime) -> PurgedReport | None:
    """Delete one report's PDF and commentary in its own transaction, keeping the row as a
    tombstone; None when it is not (or no longer) due.

    As for attachments, the stored file is deleted last: a file that cannot be deleted
    rolls the report back and the next run tries again.
    """
    with transaction.atomic():
        report = (
            Report.objects.select_for_update(of=("self",))
            .select_related("client", "engagement")
            .filter(pk=report_id, purged_at__isnull=True)
            .first()
        )
        if report is None or not is_report_expired(report, now=now):
            return None
        done = _report_what(report)
        stored = (report.pdf.storage, report.pdf.name) if report.pdf.name else None
        # The period, figures, size and SHA-256 stay; what the PDF printed as text goes.
        report.purged_at = now
        report.pdf.name = ""
        report.commentary = ""
        report.save(update_fields=["purged_at", "pdf", "commentary"])
        record(
            actor=actor,
            action="retention.purge",
            obj=report,
            client=report.client_id,
            at=now,
            detail={
                "report": report.pk,
                "engagement": report.engagement_id,
                "period": f"{report.period_start:%Y-%m-%d}/{report.period_end:%Y-%m-%d}",
                "made_at": report.created_at.isoformat(),
                "retention_days": done.retention_days,
                "bytes": done.pdf_bytes,
                "commentary": done.commentary,
            },
        )
        if stored is not None:
            storage, name = stored
            storage.delete(name)
    return done


def _purge_delivery_log(
    actor: User | None, endpoint_id: int, now: dt.datetime, *, dry_run: bool
) -> PurgedDeliveries | None:
    """Delete one endpoint's finished deliveries older than its engagement's retention, in
    their own transaction with a ``retention.purge`` record; None when none are due."""
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_related("client", "engagement")
            .filter(pk=endpoint_id)
            .first()
        )
        days = endpoint.engagement.document_retention_days if endpoint else None
        if endpoint is None or days is None:
            return None
        old = expired_deliveries(now=now).filter(endpoint=endpoint)
        count = old.count()
        if not count:
            return None
        done = PurgedDeliveries(
            endpoint_id=endpoint.pk,
            client=endpoint.client.name,
            engagement=endpoint.engagement.name,
            retention_days=days,
            deliveries=count,
        )
        if dry_run:
            return done
        old.delete()
        record(
            actor=actor,
            action="retention.purge",
            obj=endpoint,
            client=endpoint.client_id,
            at=now,
            detail={
                "engagement": endpoint.engagement_id,
                "retention_days": days,
                "deliveries": count,
                "before": (now - dt.timedelta(days=days)).isoformat(),
            },
        )
    return done


def _purge_reports_and_logs(actor: User | None, run: PurgeRun) -> None:
    """The reports and webhook delivery logs of ``run``, each in its own transaction."""
    now = run.at
    for report_id in list(expired_reports(now=now).values_list("pk", flat=True)):
        found: PurgedReport | None = None
        if run.dry_run:
            report = expired_reports(now=now).filter(pk=report_id).first()
            found = _report_what(report) if report is not None else None
        else:
            try:
                found = _purge_report(actor, report_id, now)
            except Exception as problem:  # one report's failure must not stop the run
                logger.exception("Retention purge of report %s failed", report_id)
                run.failed.append((f"report {report_id}", f"{type(problem).__name__}: {problem}"))
        if found is not None:
            run.reports.append(found)
    for endpoint_id in expired_delivery_logs(now=now):
        try:
            log = _purge_delivery_log(actor, endpoint_id, now, dry_run=run.dry_run)
        except Exception as problem:
            logger.exception("Retention purge of webhook endpoint %s's log failed", endpoint_id)
            run.failed.append(
                (f"webhook endpoint {endpoint_id}", f"{type(problem).__name__}: {problem}")
            )
            continue
        if log is not None:
            run.delivery_logs.append(log)


def do_purge_expired(
    actor: User | None = None,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    scheduled_for: dt.date | None = None,
) -> PurgeRun:
    """Delete the documents, confidential details, descriptions and comments retention made
    due, the report PDFs and commentaries, and the old webhook deliveries.

    ``actor`` is a provider admin, or None for the system (the worker's daily run or
    ``relaydesk purge``). Each item, report and endpoint's log is purged in its own
    transaction, so a failure leaves the others done and that one untouched; running
    again finds only what is still due, so a second run changes nothing. ``dry_run``
    only lists. After each item ``progress(done, total, purged_or_None)`` is called;
    reports and delivery logs follow the items. ``scheduled_for`` names the day of the
    worker's daily run in the run's audit record.
    """
    if actor is not None and actor.role_enum is not Role.PROVIDER_ADMIN:
        raise NotAllowed("Only a provider admin can purge documents under retention.")
    now = now or timezone.now()
    run = PurgeRun(dry_run=dry_run, at=now)
    due = list(expired_items(now=now).values_list("pk", flat=True))
    for done, item_id in enumerate(due, start=1):
        outcome: PurgedItem | None = None
        if dry_run:
            outcome = _preview(item_id, now)
        else:
            try:
                outcome = _purge_item(actor, item_id, now)
            except Exception as problem:  # one item's failure must not stop the run
                logger.exception("Retention purge of item %s failed", item_id)
                run.failed.append((f"RD-{item_id}", f"{type(problem).__name__}: {problem}"))
        if outcome is not None:
            run.purged.append(outcome)
        if progress is not None:
            progress(done, len(due), outcome)
    _purge_reports_and_logs(actor, run)
    if not dry_run:
        with transaction.atomic():
            record(
                actor=actor,
                action="retention.purge_run",
                obj=None,
                at=now,
                detail={
                    "items": len(run.purged),
                    "files": run.files,
                    "bytes": run.file_bytes,
                    "details": run.details,
                    "comments": run.comments,
                    "reports": len(run.reports),
                    "report_bytes": run.report_bytes,
                    "deliveries": run.deliveries,
                    "failed": [reference for reference, _ in run.failed][:100],
                    "engagements_with_retention": len(retention_cutoffs(now=now)),
                    **({"scheduled_for": scheduled_for.isoformat()} if scheduled_for else {}),
                },
            )
    return run


# The worker's daily purge: a failed day is queued again by a later sweep, at most this
# often and this many times; a run with no sign of life for STALE_AFTER is taken as dead
# (its worker stopped), as is a queued run no worker took up in that time.
DAILY_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(hours=1)
STALE_AFTER = dt.timedelta(hours=2)
HEARTBEAT_EVERY = dt.timedelta(minutes=1)


def _due_again(purge: DailyPurge, at: dt.datetime) -> bool:
    """True when the sweep at ``at`` should queue ``purge``'s day once more."""
    if purge.attempts >= DAILY_ATTEMPTS or purge.state == DailyPurgeState.DONE:
        return False
    if purge.state == DailyPurgeState.FAILED:
        return purge.finished_at is None or purge.finished_at <= at - RETRY_AFTER
    last_sign = purge.alive_at or purge.started_at or purge.queued_at
    return last_sign <= at - STALE_AFTER


def do_schedule_daily_purge(*, at: dt.datetime | None = None) -> bool:
    """Queue the day's retention purge for the worker when it is due; True when queued.

    Called by every sweep of the worker's loop (``relaydesk route``, the routing task):
    the first sweep of a UTC day queues that day's purge, later ones only a failed or
    dead one again (see :class:`~relaydesk.retention.models.DailyPurge`). Concurrent
    sweeps queue it once. The task is enqueued once the claim has committed.
    """
    at = at or timezone.now()
    day = at.astimezone(dt.UTC).date()
    # Most sweeps of a day find it queued or done: a plain read, no write lock.
    seen = DailyPurge.objects.filter(day=day).first()
    if seen is not None and not _due_again(seen, at):
        return False
    with transaction.atomic():
        purge = DailyPurge.objects.select_for_update().filter(day=day).first()
        if purge is None:
            try:
                with transaction.atomic():
                    DailyPurge.objects.create(day=day, queued_at=at)
            except IntegrityError:
                return False  # another sweep queued it a moment ago
        elif _due_again(purge, at):
            purge.state = DailyPurgeState.QUEUED
            purge.queued_at = at
            purge.save(update_fields=["state", "queued_at"])
        else:
            return False
        transaction.on_commit(lambda: _enqueue_daily_purge(day))
    return True


def _enqueue_daily_purge(day: dt.date) -> None:
    """Hand the day's purge to the worker; a failure is logged (a later sweep queues it)."""
    from relaydesk.retention.tasks import purge_expired_daily

    try:
        purge_expired_daily.enqueue(day.isoformat())
    except Exception as error:
        logger.warning(
            "The retention purge of %s could not be queued (%s); a later sweep queues it",
            day,
            type(error).__name__,
        )


def do_run_daily_purge(day: dt.date, *, at: dt.datetime | None = None) -> DailyPurge | None:
    """Run the purge queued for ``day`` as the system; the day's row as the run left it, or
    None when it is not (or no longer) queued, because another task runs it or has run it.

    The claim (queued -> running) comes first, so two tasks never purge at once. A run
    that raises, or leaves anything unpurged, is marked failed and a later sweep queues
    it again; the log names the kind of error and the references, never a message that
    could quote stored data. ``at`` fixes the run's clock (the purge's "now" and the
    row's times); by default it is the real time.
    """

    def clock() -> dt.datetime:
        return at or timezone.now()

    with transaction.atomic():
        purge = DailyPurge.objects.select_for_update().filter(day=day).first()
        if purge is None or purge.state != DailyPurgeState.QUEUED:
            return None
        purge.state = DailyPurgeState.RUNNING
        purge.started_at = purge.alive_at = clock()
        purge.finished_at = None
        purge.attempts += 1
        purge.save(update_fields=["state", "started_at", "alive_at", "finished_at", "attempts"])
    # A later attempt of the same day owns the row from here on; this one writes only its own.
    mine = DailyPurge.objects.filter(pk=purge.pk, attempts=purge.attempts)
    last_sign = timezone.now()

    def heartbeat(done: int, total: int, line: PurgedItem | None) -> None:
        nonlocal last_sign
        if timezone.now() - last_sign >= HEARTBEAT_EVERY:
            last_sign = timezone.now()
            mine.filter(state=DailyPurgeState.RUNNING).update(alive_at=clock())

    try:
        run = do_purge_expired(None, now=at, progress=heartbeat, scheduled_for=day)
    except Exception as error:
        logger.error(
            "The daily retention purge of %s failed (%s); it is tried again later",
            day,
            type(error).__name__,
        )
        mine.update(
            state=DailyPurgeState.FAILED,
            finished_at=clock(),
            error=f"Stopped by {type(error).__name__}"[:200],
        )
        return DailyPurge.objects.get(pk=purge.pk)
    counts = purge_counts(run)
    if run.failed:
        logger.warning(
            "The daily retention purge of %s left %d item(s), report(s) or log(s) untouched "
            "(%s); they are tried again later",
            day,
            len(run.failed),
            ", ".join(reference for reference, _ in run.failed[:20]),
        )
        mine.update(
            state=DailyPurgeState.FAILED,
            finished_at=clock(),
            error=f"{len(run.failed)} not purged",
            counts=counts,
        )
    else:
        mine.update(state=DailyPurgeState.DONE, finished_at=clock(), error="", counts=counts)
    return DailyPurge.objects.get(pk=purge.pk)


def purge_counts(run: PurgeRun) -> dict[str, int]:
    """A run's counts, as the purge tasks return them."""
    return {
        "items": len(run.purged),
        "files": run.files,
        "bytes": run.file_bytes,
        "details": run.details,
        "comments": run.comments,
        "reports": len(run.reports),
        "deliveries": run.deliveries,
        "failed": len(run.failed),
    }


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: its size in bytes and what it holds."""

    size: int
    counts: ExportCounts


def check_export(actor: User | None, client: Client) -> None:
    """Refuse an export ``actor`` may not make; None is the provider's operator.

    Another client's people get 404, as if the client did not exist; provider
    staff and client members without the permission get 403.
    """
    if actor is None:
        return
    if actor.is_client_user and actor.client_id != client.pk:
        raise NotFound("No such client.")
    if not can(actor.role_enum, Permission.EXPORT_CLIENT_DATA):
        raise NotAllowed(
            "Only the client's admins (and the provider's admins) can export its data."
        )


def do_export_client(
    actor: User | None,
    client: Client,
    *,
    destination: IO[bytes],
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> ExportResult:
    """Write all of ``client``'s data into ``destination`` as a ZIP, and audit it.

    ``destination`` is an open, writable binary file. The ZIP holds what the
    client may read: its records, client-visible timeline, comments and files
    (decrypted), confidential details in full, its reports (PDFs decrypted, items
    files) and schedules, and its webhook endpoints (never their signing secrets)
    with their delivery log. It is read outside a
    transaction (a long export must not hold the database's write lock); the
    ``client.export`` record with size and counts is written once it is complete.
    """
    check_export(actor, client)
    at = at or timezone.now()
    start = destination.tell()
    counts = write_client_zip(client, destination, at=at)
    size = destination.tell() - start
    with transaction.atomic():
        record(
            actor=actor,
            action="client.export",
            obj=client,
            client=client,
            source_ip=source_ip,
            at=at,
            detail={
                "bytes": size,
                "engagements": counts.engagements,
                "users": counts.users,
                "items": counts.items,
                "events": counts.events,
                "comments": counts.comments,
                "files": counts.files,
                "file_bytes": counts.file_bytes,
                "purged_files": counts.purged_files,
                "details": counts.details,
                "unreadable_files": counts.unreadable[:100],
                "unreadable_details": counts.unreadable_details[:100],
                "reports": counts.reports,
                "report_files": counts.report_files,
                "report_bytes": counts.report_bytes,
                "purged_reports": counts.purged_reports,
                "unreadable_reports": counts.unreadable_reports[:100],
                "report_schedules": counts.schedules,
                "webhook_endpoints": counts.webhook_endpoints,
                "webhook_deliveries": counts.webhook_deliveries,
            },
        )
    return ExportResult(size=size, counts=counts)
