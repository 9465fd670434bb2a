"""Reads of notifications and notification settings, always one person's own.

Nobody reads another person's notifications, whatever their role: every query
here starts from the actor. Whether a notification may still lead to its item
is asked of the work items the actor may see now (``visible_work_items``), so
an item that moved on (handed over, reviewed by someone else) is no longer
opened, nor described, from an old notification.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, IntegerField, QuerySet, Value, When

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.notifications.kinds import Email, Kind, default_for, kinds_for
from relaydesk.notifications.models import Notification, NotificationPreference
from relaydesk.work.queries import visible_work_items

__all__ = [
    "choices_of",
    "get_visible_notification",
    "newest_notifications",
    "openable_item_ids",
    "own_notifications",
    "preferences_of",
    "unread_count",
    "visible_notifications",
]


def own_notifications(actor: User, *, listed: bool = True) -> QuerySet[Notification]:
    """The actor's own notifications, in no particular order: those shown in Relaydesk, or
    with ``listed=False`` also those only e-mailed (whose links lead here too)."""
    if not can(actor.role_enum, Permission.RECEIVE_NOTIFICATIONS):
        return Notification.objects.none()
    mine = Notification.objects.filter(recipient=actor)
    return mine.filter(in_app=True) if listed else mine


def visible_notifications(actor: User) -> QuerySet[Notification]:
    """The actor's own notifications shown in Relaydesk: unread first, then newest first."""
    unread_first = Case(
        When(read_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        own_notifications(actor)
        .annotate(read_order=unread_first)
        .order_by("read_order", "-created_at", "-id")
    )


def newest_notifications(actor: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The actor's own notifications shown in Relaydesk, newest first (the API's list)."""
    mine = own_notifications(actor)
    if unread_only:
        mine = mine.filter(read_at__isnull=True)
    return mine.order_by("-created_at", "-id")


def get_visible_notification(actor: User, notification_id: int) -> Notification | None:
    """One of the actor's own notifications, else ``None`` (callers answer 404)."""
    return visible_notifications(actor).filter(pk=notification_id).first()


def unread_count(actor: User) -> int:
    """How many of the actor's notifications are unread: one count on a partial index."""
    return own_notifications(actor).filter(read_at__isnull=True).count()


def openable_item_ids(actor: User, item_ids: Iterable[int]) -> set[int]:
    """Those of ``item_ids`` the actor may open now."""
    wanted = sorted(set(item_ids))
    if not wanted:
        return set()
    return set(visible_work_items(actor).filter(pk__in=wanted).values_list("pk", flat=True))


def preferences_of(user: User) -> dict[Kind, tuple[bool, Email]]:
    """``(in_app, email)`` for every kind offered to the user: their choice or the default."""
    offered = kinds_for(user.role_enum)
    chosen = {
        row.kind: (row.in_app, Email(row.email))
        for row in NotificationPreference.objects.filter(user=user, kind__in=offered)
    }
    return {kind: chosen.get(kind, default_for(kind, user.role_enum)) for kind in offered}


def choices_of(users: Iterable[User], kind: Kind) -> dict[int, tuple[bool, Email]]:
    """``(in_app, email)`` for ``kind`` of each user it is offered to, in one query.

    Users whose role is not offered the kind are left out.
    """
    offered = [user for user in users if kind in kinds_for(user.role_enum)]
    chosen = {
        row.user_id: (row.in_app, Email(row.email))
        for row in NotificationPreference.objects.filter(
            kind=kind, user_id__in=[user.pk for user in offered]
        )
    }
    return {user.pk: chosen.get(user.pk, default_for(kind, user.role_enum)) for user in offered}
