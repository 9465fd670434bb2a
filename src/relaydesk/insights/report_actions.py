"""Every write of reports: making one now, the lead's commentary, schedules, downloads, and
the sweep that builds and e-mails scheduled reports.

Each ``do_*`` function checks who may act, changes state in one transaction and writes the
audit record there. A report's PDF is encrypted with its client's data key, as work
attachments are (:mod:`relaydesk.vault`), bound to the client and the report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import Conflict, Gone, Invalid, NotAllowed, NotFound
from relaydesk.figures import EARLIEST, LATEST, MOST_DAYS
from relaydesk.insights.report_models import (
    Frequency,
    Report,
    ReportKind,
    ReportRecipient,
    ReportSchedule,
)
from relaydesk.insights.reports import (
    ReportUnavailable,
    eligible_recipients,
    item_rows,
    items_csv,
    items_xlsx,
    period_items,
    render_pdf,
    report_html,
    report_reader,
    report_summary,
    visible_reports,
    visible_schedules,
)
from relaydesk.notifications.mail import site_url
from relaydesk.tenancy import rowsecurity
from relaydesk.vault.actions import CannotDecrypt, current_data_key
from relaydesk.vault.crypto import (
    DecryptionError,
    data_key_aad,
    decrypt,
    encrypt,
    unwrap_key,
)
from relaydesk.vault.keys import KeyUnavailable, load_master_key
from relaydesk.vault.models import ClientDataKey

__all__ = [
    "MAX_COMMENTARY",
    "ReportRun",
    "clean_period",
    "do_create_report",
    "do_create_schedule",
    "do_record_report_decrypt_failure",
    "do_record_report_download",
    "do_run_due_reports",
    "do_set_report_commentary",
    "do_set_schedule_commentary",
    "do_update_schedule",
    "due_period",
    "pdf_of",
    "report_aad",
]

logger = logging.getLogger(__name__)

MAX_COMMENTARY = 5_000
#: How often a scheduled report's e-mail is tried before it is given up (it stays listed).
MAX_SEND_ATTEMPTS = 5
# A scheduled report whose e-mail failed is tried again by the sweeps within this long.
_RETRY_WITHIN = dt.timedelta(days=3)
_FORMATS = {"pdf": "PDF", "csv": "CSV", "xlsx": "XLSX"}


# -- checks --------------------------------------------------------------------------------


def _check(actor: User, permission: Permission, message: str) -> None:
    if not can(actor.role_enum, permission):
        raise NotAllowed(message)


def _engagement(actor: User, engagement: Engagement | int) -> Engagement:
    pk = engagement.pk if isinstance(engagement, Engagement) else engagement
    found = visible_engagements(actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No engagement {pk}.")
    return found


def clean_period(start: dt.date | None, end: dt.date | None, *, today: dt.date) -> None:
    """Refuse a period no report covers: missing or reversed days, days outside the years
    figures are kept for, more than three years, or days that have not begun (UTC)."""
    if start is None or end is None:
        raise Invalid("Give the first and the last day of the period.")
    if end < start:
        raise Invalid("The period ends before it starts: the last day comes after the first.")
    if start < EARLIEST or end > LATEST:
        raise Invalid(f"Ask for days between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")
    if end > today:
        raise Invalid(
            f"A report covers days that have begun: the last day can be {today:%Y-%m-%d} "
            "(UTC) at the latest."
        )
    if (end - start).days > MOST_DAYS:
        raise Invalid("A report covers at most three years.")


def _clean_commentary(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_COMMENTARY:
        raise Invalid(f"The commentary is limited to {MAX_COMMENTARY:,} characters.")
    return text


def _visible_report(actor: User, report: Report | int) -> Report:
    pk = report.pk if isinstance(report, Report) else report
    found = visible_reports(actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No report {pk}.")
    return found


def _visible_schedule(actor: User, schedule: ReportSchedule | int) -> ReportSchedule:
    pk = schedule.pk if isinstance(schedule, ReportSchedule) else schedule
    found = visible_schedules(actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No report schedule {pk}.")
    return found


# -- the encrypted PDF ---------------------------------------------------------------------


def report_aad(client_id: int, encryption_id: str, key_version: int) -> bytes:
    """Associated data binding a report's PDF to its client, report and key version."""
    return (
        f"relaydesk/report/v1|client={client_id}|report={encryption_id}|key={key_version}".encode()
    )


def _store_pdf(report: Report, pdf: bytes, at: dt.datetime) -> str:
    """Encrypt ``pdf`` with the client's newest data key into the report's file; the name of
    the file it replaces ("" for none), to delete once the change is committed."""
    version, key = current_data_key(report.client_id, at=at)
    sealed = encrypt(key, pdf, report_aad(report.client_id, str(report.encryption_id), version))
    old = report.pdf.name or ""
    report.pdf.save("report", ContentFile(sealed), save=False)
    report.key_version = version
    report.pdf_size = len(pdf)
    report.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    return old


def _data_key(client_id: int, version: int) -> bytes:
    row = ClientDataKey.objects.filter(client_id=client_id, version=version).first()
    if row is None:
        raise KeyUnavailable(f"Client {client_id} has no data key v{version}.")
    master = load_master_key(create=False)
    if row.master_key_id != master.id:
        raise KeyUnavailable(
            f"Data key v{version} of client {client_id} is wrapped by master key "
            f"{row.master_key_id}, but the configured master key is {master.id}."
        )
    try:
        return unwrap_key(master.key, bytes(row.wrapped_key), data_key_aad(client_id, version))
    except DecryptionError as error:
        raise KeyUnavailable(
            f"Data key v{version} of client {client_id} does not unwrap: the stored key was "
            "altered."
        ) from error


def pdf_of(report: Report) -> bytes:
    """The report's PDF, decrypted and authenticated whole.

    Raises :class:`~relaydesk.vault.actions.CannotDecrypt` (with the reason) when the key is
    missing or wrong, or when any byte of the file was changed or the file belongs to
    another report or client.
    """
    if report.key_version is None or not report.pdf:
        raise CannotDecrypt("The report has no stored PDF.")
    try:
        key = _data_key(report.client_id, report.key_version)
    except KeyUnavailable as problem:
        raise CannotDecrypt(str(problem)) from problem
    aad = report_aad(report.client_id, str(report.encryption_id), report.key_version)
    try:
        with report.pdf.open("rb") as stored:
            sealed = stored.read()
        return decrypt(key, sealed, aad)
    except DecryptionError as problem:
        raise CannotDecrypt(f"Report {report.pk}: {problem}") from problem
    except OSError as problem:
        raise CannotDecrypt(f"The stored PDF cannot be read ({problem.strerror}).") from problem


def _delete_file_later(report: Report, name: str) -> None:
    if not name:
        return
    storage = report.pdf.storage
    transaction.on_commit(lambda: storage.delete(name))


def _draw(summary: dict[str, Any], commentary: str) -> bytes:
    try:
        return render_pdf(report_html(summary, commentary=commentary))
    except ReportUnavailable as problem:
        logger.error("%s", problem)
        raise Conflict(str(problem)) from problem


# -- reports -------------------------------------------------------------------------------


def _new_report(
    engagement: Engagement,
    *,
    start: dt.date,
    end: dt.date,
    kind: ReportKind,
    commentary: str,
    at: dt.datetime,
    created_by: User | None = None,
    commentary_by: User | None = None,
    schedule: ReportSchedule | None = None,
) -> Report:
    """Count the figures, draw the PDF, store it encrypted; inside the caller's transaction."""
    summary = report_summary(engagement, start=start, end=end, at=at)
    pdf = _draw(summary, commentary)
    report = Report(
        client_id=engagement.client_id,
        engagement=engagement,
        schedule=schedule,
        kind=kind.value,
        period_start=start,
        period_end=end,
        created_by=created_by,
        created_at=at,
        commentary=commentary,
        commentary_by=commentary_by if commentary else None,
        commentary_at=at if commentary else None,
        encryption_id=uuid.uuid4(),
        summary=summary,
    )
    _store_pdf(report, pdf, at)
    report.save()
    return report


def do_create_report(
    actor: User,
    engagement: Engagement | int,
    *,
    start: dt.date | None,
    end: dt.date | None,
    commentary: str = "",
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Report:
    """Make the report of ``engagement`` for ``start`` to ``end`` (UTC days) now, and keep it.

    Its figures are the client dashboard's for the engagement and period, counted as the
    client's people see them. Only the provider's leads may write commentary.
    """
    _check(actor, Permission.MANAGE_REPORTS, "Your role does not make reports.")
    at = at or timezone.now()
    found = _engagement(actor, engagement)
    clean_period(start, end, today=at.astimezone(dt.UTC).date())
    assert start is not None and end is not None
    commentary = _clean_commentary(commentary)
    if commentary and not can(actor.role_enum, Permission.WRITE_REPORT_COMMENTARY):
        raise NotAllowed("The commentary is written by the provider's delivery lead.")
    with transaction.atomic():
        report = _new_report(
            found,
            start=start,
            end=end,
            kind=ReportKind.ON_DEMAND,
            commentary=commentary,
            at=at,
            created_by=actor,
            commentary_by=actor,
        )
        record(
            actor=actor,
            action="report.create",
            obj=report,
            client=report.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": found.pk,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "commentary": bool(commentary),
            },
        )
    return report


def do_set_report_commentary(
    actor: User,
    report: Report | int,
    commentary: str,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Report:
    """Write or change the lead's commentary of a kept report, sent or not.

    The PDF is drawn again from the figures the report kept, never today's, so only the
    commentary changes. A report deleted under retention is :class:`Gone`.
    """
    _check(
        actor,
        Permission.WRITE_REPORT_COMMENTARY,
        "The commentary is written by the provider's delivery lead.",
    )
    at = at or timezone.now()
    found = _visible_report(actor, report)
    commentary = _clean_commentary(commentary)
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=found.pk)
        if locked.purged_at is not None:
            raise Gone(
                "This report was deleted under the engagement's retention policy; its "
                "commentary cannot be written again."
            )
        if locked.commentary == commentary:
            raise Conflict("The report already has this commentary.")
        pdf = _draw(locked.summary, commentary)
        old = _store_pdf(locked, pdf, at)
        locked.commentary = commentary
        locked.commentary_by = actor
        locked.commentary_at = at
        locked.save(
            update_fields=[
                "commentary",
                "commentary_by",
                "commentary_at",
                "pdf",
                "pdf_size",
                "pdf_sha256",
                "key_version",
            ]
        )
        record(
            actor=actor,
            action="report.commentary",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"characters": len(commentary), "sent": locked.is_sent},
        )
        _delete_file_later(locked, old)
    return locked


def do_record_report_download(
    actor: User, report: Report, what: str, *, source_ip: str | None = None
) -> None:
    """Write the audit record of a report's download (``what``: pdf, csv or xlsx)."""
    if what not in _FORMATS:
        raise Invalid(f"Download one of: {', '.join(_FORMATS)}.")
    with transaction.atomic():
        record(
            actor=actor,
            action="report.download",
            obj=report,
            client=report.client_id,
            source_ip=source_ip,
            detail={"format": what, "engagement": report.engagement_id},
        )


def do_record_report_decrypt_failure(
    actor: User | None, report: Report, reason: str, *, source_ip: str | None = None
) -> None:
    """Audit a report PDF that failed to decrypt, and tell the operators' log (no key)."""
    logger.warning("Report %s cannot be decrypted: %s", report.pk, reason)
    with transaction.atomic():
        record(
            actor=actor,
            action="report.decrypt_failed",
            obj=report,
            client=report.client_id,
            source_ip=source_ip,
            detail={"reason": reason[:500]},
        )


# -- schedules -----------------------------------------------------------------------------


def _recipients(
    actor: User, engagement: Engagement, chosen: Iterable[int | str], keep: Iterable[User] = ()
) -> list[User]:
    """The people chosen, each checked to be one ``actor`` may choose for ``engagement``;
    ``keep``: those already on the schedule that ``actor`` cannot choose (the provider's,
    for a client's admin) and so stay."""
    try:
        wanted = {int(pk) for pk in chosen}
    except (TypeError, ValueError):
        raise Invalid("Choose the recipients from the list.") from None
    allowed = {u.pk: u for u in eligible_recipients(actor, engagement).filter(pk__in=wanted)}
    if wanted - set(allowed):
        raise Invalid("Choose recipients among the people who may see this engagement's reports.")
    people = list(allowed.values())
    choosable = set(eligible_recipients(actor, engagement).values_list("pk", flat=True))
    people += [u for u in keep if u.pk not in choosable and u.pk not in allowed]
    if not people:
        raise Invalid("Choose at least one person to send the report to.")
    return sorted(people, key=lambda u: u.pk)


def _frequency(value: str) -> Frequency:
    try:
        return Frequency(value)
    except ValueError:
        raise Invalid("Choose weekly or monthly.") from None


def _set_recipients(schedule: ReportSchedule, people: list[User]) -> None:
    ReportRecipient.objects.filter(schedule=schedule).exclude(
        user_id__in=[u.pk for u in people]
    ).delete()
    present = set(
        ReportRecipient.objects.filter(schedule=schedule).values_list("user_id", flat=True)
    )
    ReportRecipient.objects.bulk_create(
        ReportRecipient(client_id=schedule.client_id, schedule=schedule, user=u)
        for u in people
        if u.pk not in present
    )


def do_create_schedule(
    actor: User,
    engagement: Engagement | int,
    *,
    frequency: str,
    recipients: Iterable[int | str],
    attach_xlsx: bool = False,
    attach_csv: bool = False,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> ReportSchedule:
    """Send ``engagement``'s report every week (Mondays) or month (the 1st) to the chosen
    people; the first goes out for the first period that ends after now."""
    _check(actor, Permission.MANAGE_REPORTS, "Your role does not schedule reports.")
    at = at or timezone.now()
    found = _engagement(actor, engagement)
    chosen = _frequency(frequency)
    people = _recipients(actor, found, recipients)
    try:
        with transaction.atomic():
            schedule = ReportSchedule.objects.create(
                client_id=found.client_id,
                engagement=found,
                frequency=chosen.value,
                attach_xlsx=bool(attach_xlsx),
                attach_csv=bool(attach_csv),
                created_by=actor,
                created_at=at,
                updated_at=at,
            )
            _set_recipients(schedule, people)
            record(
                actor=actor,
                action="report.schedule.create",
                obj=schedule,
                client=schedule.client_id,
                source_ip=source_ip,
                at=at,
                detail={
                    "engagement": found.pk,
                    "frequency": chosen.value,
                    "recipients": [u.pk for u in people],
                },
            )
    except IntegrityError:
        raise Conflict(
            f"{found.name} already sends a {chosen.value} report; change that schedule instead."
        ) from None
    return schedule


def do_update_schedule(
    actor: User,
    schedule: ReportSchedule | int,
    *,
    recipients: Iterable[int | str] | None = None,
    attach_xlsx: bool | None = None,
    attach_csv: bool | None = None,
    active: bool | None = None,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> ReportSchedule:
    """Change whom a schedule sends to and what it attaches, or pause and resume it;
    what is left as None stays as the locked schedule has it (so two changes at once
    never undo each other)."""
    _check(actor, Permission.MANAGE_REPORTS, "Your role does not schedule reports.")
    at = at or timezone.now()
    found = _visible_schedule(actor, schedule)
    try:
        with transaction.atomic():
            locked = ReportSchedule.objects.select_for_update().get(pk=found.pk)
            kept = list(locked.recipients.all())
            if recipients is None:
                # Those already on it that this actor may choose; the others stay anyway.
                choosable = set(
                    eligible_recipients(actor, found.engagement).values_list("pk", flat=True)
                )
                recipients = [person.pk for person in kept if person.pk in choosable]
            people = _recipients(actor, found.engagement, recipients, keep=kept)
            if attach_xlsx is not None:
                locked.attach_xlsx = bool(attach_xlsx)
            if attach_csv is not None:
                locked.attach_csv = bool(attach_csv)
            if active is not None:
                locked.active = bool(active)
            locked.updated_at = at
            locked.save(update_fields=["attach_xlsx", "attach_csv", "active", "updated_at"])
            _set_recipients(locked, people)
            record(
                actor=actor,
                action="report.schedule.update",
                obj=locked,
                client=locked.client_id,
                source_ip=source_ip,
                at=at,
                detail={
                    "active": locked.active,
                    "recipients": [u.pk for u in people],
                    "attach_xlsx": locked.attach_xlsx,
                    "attach_csv": locked.attach_csv,
                },
            )
    except IntegrityError:
        raise Conflict(
            f"{found.engagement.name} already has an active {found.frequency} schedule; "
            "pause that one first."
        ) from None
    return locked


def do_set_schedule_commentary(
    actor: User,
    schedule: ReportSchedule | int,
    commentary: str,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> ReportSchedule:
    """Write the lead's commentary for a schedule's next report, before it is sent."""
    _check(
        actor,
        Permission.WRITE_REPORT_COMMENTARY,
        "The commentary is written by the provider's delivery lead.",
    )
    at = at or timezone.now()
    found = _visible_schedule(actor, schedule)
    commentary = _clean_commentary(commentary)
    with transaction.atomic():
        locked = ReportSchedule.objects.select_for_update().get(pk=found.pk)
        locked.next_commentary, locked.updated_at = commentary, at
        locked.save(update_fields=["next_commentary", "updated_at"])
        record(
            actor=actor,
            action="report.schedule.commentary",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"characters": len(commentary)},
        )
    return locked


# -- the sweep -----------------------------------------------------------------------------


def due_period(frequency: Frequency | str, at: dt.datetime) -> tuple[dt.date, dt.date]:
    """The last whole period before ``at`` (UTC days): Monday to Sunday for weekly
    schedules, the calendar month for monthly ones."""
    today = at.astimezone(dt.UTC).date()
    if Frequency(frequency) is Frequency.WEEKLY:
        this_monday = today - dt.timedelta(days=today.weekday())
        return this_monday - dt.timedelta(days=7), this_monday - dt.timedelta(days=1)
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


@dataclass(frozen=True, slots=True)
class ReportRun:
    """What one sweep did: reports built, e-mails sent (whole reports), failures."""

    built: int = 0
    sent: int = 0
    failed: int = 0


def _build_due(schedule: ReportSchedule, at: dt.datetime) -> Report | None:
    """Build the schedule's report of its last whole period, once; None when not due."""
    start, end = due_period(schedule.frequency, at)
    finished = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    engagement = schedule.engagement
    # Not before the schedule existed, nor for a period outside the engagement's contract.
    covered = engagement.starts_on <= end and (
        engagement.ends_on is None or engagement.ends_on >= start
    )
    if finished <= schedule.created_at or not covered:
        return None
    if Report.objects.filter(schedule=schedule, period_start=start).exists():
        return None
    try:
        scope = rowsecurity.Scope("client", schedule.client_id)
        with rowsecurity.within(scope), transaction.atomic():
            locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
            commentary = locked.next_commentary
            report = _new_report(
                engagement,
                start=start,
                end=end,
                kind=ReportKind.SCHEDULED,
                commentary=commentary,
                at=at,
                schedule=locked,
            )
            if commentary:
                locked.next_commentary = ""
                locked.save(update_fields=["next_commentary"])
            record(
                actor=None,
                action="report.build",
                obj=report,
                client=report.client_id,
                at=at,
                detail={
                    "schedule": locked.pk,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                },
            )
    except IntegrityError:  # another sweep built it meanwhile
        return None
    return report


def _message(
    report: Report, user: User, pdf: bytes, files: dict[str, tuple[str, bytes | str, str]]
) -> EmailMessage:
    summary = report.summary
    context = {
        "report": report,
        "recipient": user,
        "summary": summary,
        "headline": summary.get("headline", {}),
        "cadence": report.schedule.cadence if report.schedule else "",
        "report_url": site_url(reverse("insights:reports:detail", args=[report.pk])),
        "csv_url": site_url(reverse("insights:reports:csv", args=[report.pk])),
        "schedules_url": site_url(reverse("insights:reports:list")),
    }
    body = render_to_string("insights/reports/email.txt", context)
    when = f"{report.period_start:%-d %b %Y} – {report.period_end:%-d %b %Y}"
    subject = " ".join(f"[Relaydesk] Report: {report.engagement.name}, {when}".split())
    message = EmailMessage(subject=subject[:150], body=body, to=[user.email])
    message.attach(f"{report.file_stem()}.pdf", pdf, "application/pdf")
    for filename, content, mime in files.values():
        message.attach(filename, content, mime)
    return message


def _send(report: Report) -> bool | None:
    """E-mail a scheduled report to each recipient not yet sent it: True when all have it,
    False when some failed (tried again later), None when another sweep holds it."""
    claimed = Report.objects.filter(
        pk=report.pk, sent_at__isnull=True, send_attempts=report.send_attempts
    ).update(send_attempts=report.send_attempts + 1)
    if not claimed:
        return None
    schedule = report.schedule
    if schedule is None:
        return None
    done = list(report.recipients)
    allowed = eligible_recipients(None, report.engagement)
    people = [
        u
        for u in allowed.filter(pk__in=schedule.recipients.values("pk")).order_by("pk")
        if u.email and u.email not in done
    ]
    try:
        pdf = pdf_of(report)
        files: dict[str, tuple[str, bytes | str, str]] = {}
        if schedule.attach_xlsx or schedule.attach_csv:
            rows = item_rows(
                period_items(
                    report_reader(report.engagement),
                    report.engagement_id,
                    report.period_start,
                    report.period_end,
                )
            )
            if schedule.attach_csv:
                files["csv"] = (f"{report.file_stem()}-items.csv", items_csv(rows), "text/csv")
            if schedule.attach_xlsx:
                files["xlsx"] = (
                    f"{report.file_stem()}-items.xlsx",
                    items_xlsx(rows),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
    except CannotDecrypt as problem:
        do_record_report_decrypt_failure(None, report, problem.reason)
        return False
    failed = False
    for user in people:
        try:
            _message(report, user, pdf, files).send()
        except Exception as error:  # one address failing must not stop the others
            logger.warning(
                "E-mail of report %s to user %s failed (%s); it is tried again later",
                report.pk,
                user.pk,
                type(error).__name__,
            )
            failed = True
            continue
        done.append(user.email)
        Report.objects.filter(pk=report.pk).update(recipients=done)
    if failed:
        return False
    Report.objects.filter(pk=report.pk).update(sent_at=timezone.now(), recipients=done)
    return True


def do_run_due_reports(*, at: dt.datetime | None = None) -> ReportRun:
    """Build and e-mail each active schedule's report of its last whole period, once.

    Weekly schedules send on Mondays the week before (Monday to Sunday), monthly ones on
    the 1st the month before, in UTC days; a sweep that runs later the same week or month
    still sends it, and no sweep ever sends a period twice (one report per schedule and
    period, claimed before it is sent). The first report of a schedule is for the first
    period that ends after it was made. E-mails that failed are tried again by later
    sweeps. Runs as the system (the worker); never raises for one schedule's failure.
    """
    at = at or timezone.now()
    built = sent = failed = 0
    schedules = ReportSchedule.objects.filter(active=True).select_related("engagement__client")
    for schedule in schedules.order_by("pk"):
        try:
            report = _build_due(schedule, at)
        except Exception as error:
            logger.warning(
                "Report of schedule %s could not be built (%s)", schedule.pk, type(error).__name__
            )
            failed += 1
            continue
        if report is not None:
            built += 1
    owed = (
        Report.objects.filter(
            schedule__isnull=False,
            sent_at__isnull=True,
            purged_at__isnull=True,
            send_attempts__lt=MAX_SEND_ATTEMPTS,
            created_at__gt=at - _RETRY_WITHIN,
            created_at__lte=at,
        )
        .select_related("engagement__client", "schedule")
        .order_by("pk")
    )
    for report in owed:
        outcome = _send(report)
        if outcome:
            sent += 1
        elif outcome is False:
            failed += 1
    return ReportRun(built=built, sent=sent, failed=failed)
