"""The notifications API: one's own notifications, the unread count, reading, and one's
notification settings.

Nobody reaches another person's notifications, whatever their role: another
person's notification answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.notifications.actions import do_mark_all_read, do_mark_read, do_set_preferences
from relaydesk.notifications.kinds import DIGEST_HOUR, KINDS, Email, Kind
from relaydesk.notifications.models import Notification
from relaydesk.notifications.queries import (
    newest_notifications,
    openable_item_ids,
    preferences_of,
    unread_count,
)
from relaydesk.notifications.schemas import (
    MarkedReadOut,
    NotificationOut,
    NotificationPage,
    PreferenceOut,
    PreferencesIn,
    PreferencesOut,
    UnreadCountOut,
)
from relaydesk.web import client_ip
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["notifications"])

# Every answer may be 401 (no token or session), 403 (a role that receives no
# notifications; a session write without its CSRF token) or 429 (too many requests).
_ALWAYS = {401: ErrorOut, 403: ErrorOut, 429: ErrorOut}


def _receiver(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    if not can(user.role_enum, Permission.RECEIVE_NOTIFICATIONS):
        raise NotAllowed("Your role receives no notifications.")
    return user


def _out(notification: Notification, openable: bool) -> NotificationOut:
    kind = notification.kind_enum
    return NotificationOut(
        id=notification.pk,
        kind=kind,
        kind_label=kind.short,
        item_id=notification.item_id,
        item_reference=f"RD-{notification.item_id}",
        openable=openable,
        # What was written about an item one may no longer open is not shown any more.
        title=notification.title if openable else None,
        body=notification.body if openable else None,
        url=(notification.url or None) if openable else None,
        created_at=notification.created_at,
        read_at=notification.read_at,
        email=Email(notification.email),
        emailed_at=notification.emailed_at,
    )


def _outs(user: User, notifications: Sequence[Notification]) -> list[NotificationOut]:
    openable = openable_item_ids(user, [n.item_id for n in notifications])
    return [_out(n, n.item_id in openable) for n in notifications]


class NotificationFilter(Schema):
    """Which notifications: all or only the unread, one page of them."""

    unread: bool = Field(False, description="true lists only the unread ones.")
    limit: int = Field(50, ge=1, le=500)
    # Bounded: a larger offset overflows the database's integer (a 500, not an empty page).
    offset: int = Field(0, ge=0, le=1_000_000_000)


@router.get(
    "/notifications",
    response={200: NotificationPage, 422: ErrorOut, **_ALWAYS},
    summary="List my notifications",
)
def list_notifications(
    request: HttpRequest, filters: Query[NotificationFilter]
) -> NotificationPage:
    """Your notifications shown in Relaydesk, newest first, with ``count`` (how many match)
    and ``unread``. Times are UTC. 422 for a ``limit`` outside 1–500 or a negative
    ``offset``."""
    user = _receiver(request)
    matching = newest_notifications(user, unread_only=filters.unread)
    page = list(matching[filters.offset : filters.offset + filters.limit])
    return NotificationPage(
        count=matching.count(), unread=unread_count(user), items=_outs(user, page)
    )


@router.get(
    "/notifications/unread-count",
    response={200: UnreadCountOut, **_ALWAYS},
    summary="Count my unread notifications",
)
def count_unread(request: HttpRequest) -> UnreadCountOut:
    """How many of your notifications are unread: the bell's count, uncapped."""
    return UnreadCountOut(unread=unread_count(_receiver(request)))


@router.post(
    "/notifications/{notification_id}/read",
    response={200: NotificationOut, 404: ErrorOut, 422: ErrorOut, **_ALWAYS},
    summary="Mark a notification read",
)
def mark_read(request: HttpRequest, notification_id: int) -> NotificationOut:
    """Mark one of your notifications read and answer with it; one already read stays as it
    was. 404 for a notification that does not exist or is another person's."""
    user = _receiver(request)
    notification = do_mark_read(user, notification_id)
    return _outs(user, [notification])[0]


@router.post(
    "/notifications/read-all",
    response={200: MarkedReadOut, **_ALWAYS},
    summary="Mark all my notifications read",
)
def mark_all_read(request: HttpRequest) -> MarkedReadOut:
    """Mark every unread notification of yours read; ``marked`` says how many were."""
    return MarkedReadOut(marked=do_mark_all_read(_receiver(request)))


def _preferences_out(user: User) -> PreferencesOut:
    role = user.role_enum
    return PreferencesOut(
        digest_hour=DIGEST_HOUR,
        preferences=[
            PreferenceOut(
                kind=kind,
                label=KINDS[kind].label,
                help=KINDS[kind].help_for(role),
                in_app=in_app,
                email=email,
            )
            for kind, (in_app, email) in preferences_of(user).items()
        ],
    )


@router.get(
    "/notification-preferences",
    response={200: PreferencesOut, **_ALWAYS},
    summary="My notification settings",
)
def get_preferences(request: HttpRequest) -> PreferencesOut:
    """For each kind offered to your role, whether it shows in Relaydesk and how it is
    e-mailed: your choice, or your role's default. A provider admin is offered none."""
    return _preferences_out(_receiver(request))


@router.patch(
    "/notification-preferences",
    response={200: PreferencesOut, 400: ErrorOut, 422: ErrorOut, **_ALWAYS},
    summary="Change my notification settings",
)
def set_preferences(request: HttpRequest, payload: PreferencesIn) -> PreferencesOut:
    """Set how you are told of the kinds given; the others keep their setting. Answers with
    every setting now in force. The change is recorded in the audit trail. 422 for a kind
    your role is not offered, a kind given twice, or an ``email`` other than ``now``,
    ``digest`` or ``off``."""
    user = _receiver(request)
    seen: set[Kind] = set()
    for choice in payload.preferences:
        if choice.kind in seen:
            raise Invalid(f"'{choice.kind.value}' is given twice; give each kind at most once.")
        seen.add(choice.kind)
    do_set_preferences(
        user,
        {c.kind.value: (c.in_app, c.email.value) for c in payload.preferences},
        source_ip=client_ip(request),
    )
    return _preferences_out(user)
