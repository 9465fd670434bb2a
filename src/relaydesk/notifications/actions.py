"""Every write of notifications: telling people, reading, settings, e-mail and digests.

Telling people (:func:`do_notify`) follows a change that is already committed
and audited (a delivery, a handoff, an SLA warning), so it writes no audit
record of its own, and nor does reading a notification: neither changes any
work, and the audit trail stays the record of what was done. Changing one's
notification settings is recorded.

E-mails leave after the commit, outside any transaction. A failure is logged
(the notification's number and the kind of error, never an address, a server's
answer or a credential) and the sweep (:func:`do_send_digests`) tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
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
    "DigestRun",
    "Note",
    "do_mark_all_read",
    "do_mark_read",
    "do_notify",
    "do_send_digests",
    "do_set_preferences",
    "send_right_away",
]

logger = logging.getLogger(__name__)

#: How often an e-mail that failed is tried again before it is given up (it stays in the list).
MAX_EMAIL_ATTEMPTS = 5
#: How late after the digest hour a digest still goes out; later, the next day's covers it.
DIGEST_LATEST = dt.timedelta(hours=4)
# What a failed immediate e-mail is retried within; older ones stay in the list only.
_RETRY_WITHIN = dt.timedelta(days=1)
# An immediate e-mail never tried this long after it was written (its process stopped
# before the commit's follow-up ran) is sent by the sweep.
_NEVER_TRIED_AFTER = dt.timedelta(minutes=2)


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
    client's. The rows are written in one transaction; those to be e-mailed
    right away are sent once it commits. Returns the rows written.
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
            )
        )
    if not rows:
        return []
    with transaction.atomic():
        created = Notification.objects.bulk_create(rows)
        now_ids = [row.pk for row in created if row.email == Email.NOW.value]
        if now_ids:
            rowsecurity.on_commit_in_scope(lambda: send_right_away(now_ids))
    return created


def send_right_away(notification_ids: Iterable[int]) -> int:
    """E-mail each of these notifications still owed right away; how many were sent.

    Runs after the commit that wrote them. Each is claimed (``emailed_at`` set)
    before it is sent, so a sweep running at the same time never sends it twice;
    a failure gives the claim back and counts the attempt.
    """
    owed = Notification.objects.filter(
        pk__in=list(notification_ids), email=Email.NOW.value, emailed_at__isnull=True
    ).select_related("recipient", "item")
    return sum(_send_one(notification) == _SENT for notification in owed)


_SENT, _SKIPPED, _FAILED = "sent", "skipped", "failed"


def _send_one(notification: Notification) -> str:
    """Claim, check and send one notification's e-mail: sent, skipped or failed."""
    user = notification.recipient
    if not user.is_active or notification.item_id not in openable_item_ids(
        user, [notification.item_id]
    ):
        # The item moved on (or the person left): the list still says so, e-mail does not.
        return _SKIPPED
    at = timezone.now()
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=at
    )
    if not claimed:
        return _SKIPPED  # sent meanwhile by another process
    try:
        notification_message(notification).send()
    except Exception as error:
        Notification.objects.filter(pk=notification.pk, emailed_at=at).update(
            emailed_at=None, email_attempts=F("email_attempts") + 1
        )
        logger.warning(
            "E-mail of notification %s failed (%s); it is tried again later",
            notification.pk,
            type(error).__name__,
        )
        return _FAILED
    return _SENT


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
    """Send the immediate e-mails that failed lately, or were never tried; (sent, failed)."""
    owed = (
        Notification.objects.filter(
            Q(email_attempts__gt=0) | Q(created_at__lte=at - _NEVER_TRIED_AFTER),
            email=Email.NOW.value,
            emailed_at__isnull=True,
            read_at__isnull=True,  # read in Relaydesk meanwhile: nothing left to tell
            email_attempts__lt=MAX_EMAIL_ATTEMPTS,
            created_at__gt=at - _RETRY_WITHIN,
        )
        .select_related("recipient", "item")
        .order_by("pk")
    )
    outcomes = [_send_one(notification) for notification in owed]
    return outcomes.count(_SENT), outcomes.count(_FAILED)


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
