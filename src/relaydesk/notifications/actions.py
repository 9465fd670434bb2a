"""Every write of notifications: telling people, reading, settings, e-mail and digests.

Telling people (:func:`do_notify`) follows a change that is already committed
and audited (a delivery, a handoff, an SLA warning), so it writes no audit
record of its own, and nor does reading a notification: neither changes any
work, and the audit trail stays the record of what was done. Changing one's
notification settings is recorded.

An e-mail sent right away leaves the request: once the notification commits, a
background task (``relaydesk.notifications.tasks.send_notification_email``) is
enqueued to send it, so a slow or refusing mail server never holds up nor
fails the change that caused it. How it went is kept on the notification
(``email_status``, ``email_attempts``, ``email_error``); a failure is logged
(the notification's number and the kind of error, never an address, a server's
answer or a credential) and the sweep (:func:`do_send_digests`) tries again, a
few times, further apart each time.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import Invalid, NotAllowed, NotFound
from relaydesk.notifications.kinds import DIGEST_HOUR, Email, Kind, kinds_for
from relaydesk.notifications.mail import digest_message, notification_message, zone_of
from relaydesk.notifications.models import (
    EMAIL_OWED,
    EmailStatus,
    Notification,
    NotificationDigest,
    NotificationPreference,
)
from relaydesk.notifications.queries import (
    choices_of,
    openable_item_ids,
    own_notifications,
    preferences_of,
)
from relaydesk.tenancy import rowsecurity
from relaydesk.work.models import WorkItem

__all__ = [
    "DIGEST_LATEST",
    "MAX_EMAIL_ATTEMPTS",
    "RETRY_AFTER",
    "DigestRun",
    "Note",
    "do_mark_all_read",
    "do_mark_read",
    "do_notify",
    "do_send_digests",
    "do_send_notification_email",
    "do_set_preferences",
]

logger = logging.getLogger(__name__)

#: How many tries an e-mail sent right away gets before it is given up (it stays in the list).
MAX_EMAIL_ATTEMPTS = 5
#: How long after its n-th failed try the sweep tries an e-mail again: a mail server that
#: is down for a while does not use up every try in a few minutes.
RETRY_AFTER = (
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)
#: How late after the digest hour a digest still goes out; later, the next day's covers it.
DIGEST_LATEST = dt.timedelta(hours=4)
# What an immediate e-mail is sent within; one still owed a day later is given up.
_RETRY_WITHIN = dt.timedelta(days=1)
# An immediate e-mail still waiting this long after it was written (its task was lost, or
# no worker runs) is sent by the sweep.
_NEVER_TRIED_AFTER = dt.timedelta(minutes=2)
# The most e-mails one sweep sends again; the next sweep goes on.
_SWEEP_LIMIT = 500
# A try still "sending" this long after it began was cut off (its process stopped): the
# SMTP connection gives up after 10 seconds, so it counts as a failed try.
_CUT_OFF_AFTER = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Note:
    """What one recipient is told: written for them (their role, their time zone)."""

    recipient: User
    title: str
    body: str = ""
    url: str = ""


def do_notify(
    kind: Kind, item: WorkItem, notes: Iterable[Note], *, at: dt.datetime | None = None
) -> list[Notification]:
    """Tell each recipient of ``notes`` about ``item``, as each has chosen.

    A recipient is skipped when they are inactive, when their role is not
    offered ``kind``, when they turned it off both in Relaydesk and by e-mail,
    and always when they are a client's person and the item is another
    client's. The rows are written in one transaction; for those to be
    e-mailed right away a background task is enqueued once the outermost
    transaction commits (none if it rolls back). Returns the rows written.
    """
    at = at or timezone.now()
    wanted: dict[int, Note] = {}
    for note in notes:
        user = note.recipient
        if user.pk in wanted or not user.is_active:
            continue
        if user.is_client_user and user.client_id != item.client_id:
            continue  # never across the client wall, whatever the caller asked
        wanted[user.pk] = note
    choices = choices_of([note.recipient for note in wanted.values()], kind)
    rows = []
    for user_id, note in wanted.items():
        if user_id not in choices:
            continue
        in_app, email = choices[user_id]
        if not in_app and email is Email.OFF:
            continue
        rows.append(
            Notification(
                recipient=note.recipient,
                client_id=item.client_id,
                item=item,
                kind=kind.value,
                title=note.title[:300],
                body=note.body,
                url=note.url[:300],
                created_at=at,
                in_app=in_app,
                email=email.value,
                email_status=EmailStatus.PENDING if email is Email.NOW else EmailStatus.NONE,
            )
        )
    if not rows:
        return []
    with transaction.atomic():
        created = Notification.objects.bulk_create(rows)
        now_ids = [row.pk for row in created if row.email == Email.NOW.value]
        if now_ids:
            # Rolled back, nothing is enqueued: nobody hears of a change that did not happen.
            transaction.on_commit(lambda: _enqueue(now_ids))
    return created


def _enqueue(notification_ids: Sequence[int]) -> None:
    """Enqueue the e-mail task of each notification; a failure is logged (the sweep sends it)."""
    from relaydesk.notifications.tasks import send_notification_email

    for notification_id in notification_ids:
        try:
            send_notification_email.enqueue(notification_id)
        except Exception as error:
            logger.warning(
                "E-mail of notification %s could not be enqueued (%s); the sweep sends it",
                notification_id,
                type(error).__name__,
            )


_SENT, _SKIPPED, _FAILED, _NOT_DUE = "sent", "skipped", "failed", "not_due"
# Failed for this message alone (the server answered and refused it): the others may go.
_REFUSED = "refused"
_REFUSED_BY_SERVER = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
)


def do_send_notification_email(notification_id: int, *, at: dt.datetime | None = None) -> str:
    """Send the e-mail of one notification written to be e-mailed right away, if still owed.

    The background task's body; runs as the system. Answers what became of it:
    ``sent``, ``failed`` (tried again by the sweep), ``skipped`` (read
    meanwhile, or about an item its reader can no longer open, or the reader
    left) or ``not_due`` (already sent, given up, being sent by another
    process, or not one to send right away).
    """
    at = at or timezone.now()
    with rowsecurity.within(rowsecurity.PROVIDER):
        notification = (
            Notification.objects.select_related("recipient")
            .filter(pk=notification_id, email_status=EmailStatus.PENDING)
            .first()
        )
    if notification is None:
        return _NOT_DUE
    return _send_one(notification, at)


def _send_one(notification: Notification, at: dt.datetime) -> str:
    """Check, claim, send and record one notification's e-mail: what became of it.

    The claim (``sending``) is taken only from the status and attempts just
    read, so the task and a sweep running at the same time never both send it.
    The e-mail itself is sent outside any transaction.
    """
    as_read = Notification.objects.filter(
        pk=notification.pk,
        email_status=notification.email_status,
        email_attempts=notification.email_attempts,
    )
    with rowsecurity.within(rowsecurity.PROVIDER):
        user = notification.recipient
        if (
            notification.read_at is not None
            or not user.is_active
            or notification.item_id not in openable_item_ids(user, [notification.item_id])
        ):
            # Read already, the item moved on, or the person left: the list says what
            # there is to say; an e-mail would only repeat it or lead nowhere.
            as_read.update(email_status=EmailStatus.SKIPPED)
            return _SKIPPED
        if not as_read.update(email_status=EmailStatus.SENDING, email_tried_at=at):
            return _NOT_DUE  # another process took it meanwhile
    try:
        notification_message(notification).send()
    except Exception as error:
        attempts = notification.email_attempts + 1
        with rowsecurity.within(rowsecurity.PROVIDER):
            Notification.objects.filter(
                pk=notification.pk, email_status=EmailStatus.SENDING, email_tried_at=at
            ).update(
                email_status=(
                    EmailStatus.GIVEN_UP if attempts >= MAX_EMAIL_ATTEMPTS else EmailStatus.FAILED
                ),
                email_attempts=attempts,
                email_error=describe_mail_error(error),
            )
        logger.warning(
            "E-mail of notification %s failed (%s, try %s of %s)",
            notification.pk,
            type(error).__name__,
            attempts,
            MAX_EMAIL_ATTEMPTS,
        )
        return _REFUSED if isinstance(error, _REFUSED_BY_SERVER) else _FAILED
    with rowsecurity.within(rowsecurity.PROVIDER):
        Notification.objects.filter(
            pk=notification.pk, email_status=EmailStatus.SENDING, email_tried_at=at
        ).update(email_status=EmailStatus.SENT, emailed_at=timezone.now(), email_error="")
    return _SENT


# From the most particular: SMTP errors are OSErrors too. The server's own answer is never
# kept: it may quote an address, a user name or worse.
_MAIL_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (smtplib.SMTPAuthenticationError, "The mail server refused the sign-in."),
    (smtplib.SMTPSenderRefused, "The mail server refused the sender's address."),
    (smtplib.SMTPRecipientsRefused, "The mail server refused the recipient's address."),
    (smtplib.SMTPServerDisconnected, "The mail server closed the connection."),
    (smtplib.SMTPException, "The mail server refused the message."),
    (ConnectionRefusedError, "The mail server refused the connection."),
    (TimeoutError, "The mail server did not answer in time."),
    (socket.gaierror, "The mail server's name could not be found."),
    (ssl.SSLError, "The secure connection to the mail server failed."),
    (OSError, "The mail server could not be reached."),
)


def describe_mail_error(error: BaseException) -> str:
    """Why sending failed, for the notification's record: the kind of error in our words."""
    reason = next(
        (text for kind, text in _MAIL_ERRORS if isinstance(error, kind)),
        "Sending failed with an unexpected error.",
    )
    return f"{type(error).__name__}: {reason}"[:200]


def do_mark_read(
    actor: User, notification_id: int, *, at: dt.datetime | None = None
) -> Notification:
    """Mark one of the actor's own notifications read (already read: left as it was).

    E-mailed-only ones too, whose links lead here. Raises :class:`NotFound` for
    any other person's notification.
    """
    at = at or timezone.now()
    with transaction.atomic():
        mine = own_notifications(actor, listed=False).filter(pk=notification_id)
        mine.filter(read_at__isnull=True).update(read_at=at)
        notification = mine.first()
    if notification is None:
        raise NotFound("No such notification.")
    return notification


def do_mark_all_read(actor: User, *, at: dt.datetime | None = None) -> int:
    """Mark every unread notification of the actor read; how many were."""
    at = at or timezone.now()
    with transaction.atomic():
        return own_notifications(actor).filter(read_at__isnull=True).update(read_at=at)


def do_set_preferences(
    actor: User,
    choices: Mapping[str, tuple[bool, str]],
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> dict[Kind, tuple[bool, Email]]:
    """Set how the actor is told of each kind: ``{kind: (in_app, email)}``.

    Kinds left out keep their setting. Only kinds offered to the actor's role
    may be set; ``email`` is ``now``, ``digest`` or ``off``. Changes are
    recorded in the audit trail (``notification.preferences_set``). Returns the
    settings now in force, every offered kind.
    """
    if not can(actor.role_enum, Permission.RECEIVE_NOTIFICATIONS):
        raise NotAllowed("Your role receives no notifications.")
    offered = kinds_for(actor.role_enum)
    parsed: dict[Kind, tuple[bool, Email]] = {}
    for key, (in_app, email) in choices.items():
        kind = next((k for k in offered if k.value == key), None)
        if kind is None:
            raise Invalid(f"'{key}' is not a notification your role can choose.")
        if email not in {choice.value for choice in Email}:
            raise Invalid(f"E-mail must be one of: {', '.join(e.value for e in Email)}.")
        parsed[kind] = (bool(in_app), Email(email))
    at = at or timezone.now()
    with transaction.atomic():
        before = preferences_of(actor)
        changed = {kind: value for kind, value in parsed.items() if before[kind] != value}
        for kind, (in_app, email) in changed.items():
            NotificationPreference.objects.update_or_create(
                user=actor,
                kind=kind.value,
                defaults={"in_app": in_app, "email": email.value, "updated_at": at},
            )
        if changed:
            record(
                actor=actor,
                action="notification.preferences_set",
                obj=actor,
                client=actor.client_id,
                source_ip=source_ip,
                at=at,
                detail={
                    kind.value: {"in_app": in_app, "email": email.value}
                    for kind, (in_app, email) in changed.items()
                },
            )
        return {**before, **parsed}


# --- the sweep: retries and daily digests -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one sweep did: digests sent (and the notifications in them), e-mails retried."""

    digests: int = 0
    notifications: int = 0
    retried: int = 0
    failed: int = 0


def do_send_digests(*, at: dt.datetime | None = None) -> DigestRun:
    """Send the daily digests that are due, and retry immediate e-mails that failed.

    A person who chose the digest for a kind gets, once a day at about
    :data:`~relaydesk.notifications.kinds.DIGEST_HOUR` in their own time zone,
    one e-mail listing those notifications that are still unread and not yet
    e-mailed, written since the previous day's digest hour, and that lead to an
    item they may still open. The first sweep from that hour until
    :data:`DIGEST_LATEST` after it sends it; at most one per person and local
    day, however often or concurrently the sweep runs. Runs as the system (the
    worker) and never raises for one person's failure: it is logged, and the
    next sweep tries again.
    """
    at = at or timezone.now()
    retried, failed = _retry_right_away(at)
    owed = Notification.objects.filter(
        email=Email.DIGEST.value,
        emailed_at__isnull=True,
        read_at__isnull=True,
        created_at__gt=at - dt.timedelta(days=2),
        created_at__lte=at,
    )
    recipients = sorted(set(owed.values_list("recipient_id", flat=True)))
    digests = included = 0
    for user in User.objects.filter(pk__in=recipients, is_active=True).order_by("pk"):
        try:
            sent = _digest_for(user, owed.filter(recipient=user), at)
        except Exception as error:
            logger.warning(
                "Digest for user %s could not be prepared (%s)", user.pk, type(error).__name__
            )
            sent = None
        if sent is None:
            continue
        if sent:
            digests += 1
            included += sent
        else:
            failed += 1
    return DigestRun(digests=digests, notifications=included, retried=retried, failed=failed)


def _retry_right_away(at: dt.datetime) -> tuple[int, int]:
    """Send the immediate e-mails that are due again, or whose task never ran; (sent, failed).

    First the bookkeeping: a try cut off mid-way counts as failed, and what is
    still owed a day after it was written is given up (it stays in the list).
    """
    owed = Notification.objects.filter(email_status__in=[status.value for status in EMAIL_OWED])
    owed.filter(email_status=EmailStatus.SENDING, email_tried_at__lte=at - _CUT_OFF_AFTER).update(
        email_status=EmailStatus.FAILED,
        email_attempts=F("email_attempts") + 1,
        email_error="The try was cut off before it finished.",
    )
    too_old = at - _RETRY_WITHIN
    owed.filter(email_status=EmailStatus.PENDING, created_at__lte=too_old).update(
        email_status=EmailStatus.GIVEN_UP, email_error="Not sent within a day of being written."
    )
    owed.filter(
        Q(email_attempts__gte=MAX_EMAIL_ATTEMPTS) | Q(created_at__lte=too_old),
        email_status=EmailStatus.FAILED,
    ).update(email_status=EmailStatus.GIVEN_UP)
    due_again = Q()
    for tries, wait in enumerate(RETRY_AFTER, start=1):
        due_again |= Q(email_attempts=tries, email_tried_at__lte=at - wait)
    due = (
        owed.filter(
            Q(email_status=EmailStatus.PENDING, created_at__lte=at - _NEVER_TRIED_AFTER)
            | (Q(email_status=EmailStatus.FAILED) & due_again),
            created_at__lte=at,
        )
        .select_related("recipient")
        .order_by("pk")[:_SWEEP_LIMIT]
    )
    sent = failed = 0
    for notification in due:
        outcome = _send_one(notification, at)
        if outcome == _FAILED:
            # The server is likely down for the rest too: one failed connection a sweep.
            return sent, failed + 1
        sent += outcome == _SENT
        failed += outcome == _REFUSED
    return sent, failed


def _digest_for(user: User, owed: Iterable[Notification], at: dt.datetime) -> int | None:
    """Send ``user`` today's digest if it is due: how many notifications it held, 0 when the
    e-mail failed, ``None`` when nothing was due."""
    zone = zone_of(user)
    today = at.astimezone(zone).date()
    due_from = dt.datetime.combine(today, dt.time(DIGEST_HOUR), tzinfo=zone)
    if not due_from <= at < due_from + DIGEST_LATEST:
        return None
    since = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(DIGEST_HOUR), tzinfo=zone)
    recent = [n for n in owed if n.created_at >= since]
    openable = openable_item_ids(user, [n.item_id for n in recent])
    rows = [n for n in recent if n.item_id in openable]
    if not rows:
        return None
    rows.sort(key=lambda n: (n.created_at, n.pk))
    ids = [n.pk for n in rows]
    try:
        with transaction.atomic():
            digest = NotificationDigest.objects.create(
                user=user, day=today, sent_at=at, notifications=len(rows)
            )
            Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(emailed_at=at)
    except IntegrityError:
        return None  # today's digest is already out (another sweep at the same time)
    try:
        digest_message(user, rows, today).send()
    except Exception as error:
        # Give the day and the notifications back, so the next sweep sends the digest.
        with transaction.atomic():
            Notification.objects.filter(pk__in=ids, emailed_at=at).update(emailed_at=None)
            NotificationDigest.objects.filter(pk=digest.pk).delete()
        logger.warning(
            "Digest e-mail for user %s failed (%s); it is tried again later",
            user.pk,
            type(error).__name__,
        )
        return 0
    return len(rows)
