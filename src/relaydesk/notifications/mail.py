"""The e-mails of notifications: one notification alone, or a person's daily digest.

Each has a plain-text body and a simple HTML one, rendered in the recipient's own
time zone. They say only what the notification already says to its recipient
(a client's never name the provider's people), and link back to Relaydesk,
where the person signs in to see more.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.notifications.models import Notification

__all__ = ["digest_message", "notification_message", "site_url", "zone_of"]

_SUBJECT_LIMIT = 150


def site_url(path: str) -> str:
    """An absolute address on this site, for links in e-mails (``RELAYDESK_BASE_URL``)."""
    base = getattr(settings, "RELAYDESK_BASE_URL", "http://127.0.0.1:8000")
    return str(base).rstrip("/") + path


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    """The user's time zone, UTC when theirs is unknown."""
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _subject(text: str) -> str:
    line = " ".join(text.split())  # a header never spans lines
    subject = f"[Relaydesk] {line}"
    return subject if len(subject) <= _SUBJECT_LIMIT else subject[: _SUBJECT_LIMIT - 1] + "…"


def _links(notification: Notification) -> dict[str, str]:
    return {
        "open_url": site_url(reverse("notifications:open", args=[notification.pk])),
    }


def _common(user: User) -> dict[str, object]:
    return {
        "recipient": user,
        "settings_url": site_url(reverse("notifications:preferences")),
        "list_url": site_url(reverse("notifications:list")),
    }


def notification_message(notification: Notification) -> EmailMultiAlternatives:
    """The e-mail of one notification to its recipient."""
    user = notification.recipient
    context = {**_common(user), "notification": notification, **_links(notification)}
    with timezone.override(zone_of(user)):
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=_subject(notification.title), body=text, to=[user.email]
    )
    message.attach_alternative(html, "text/html")
    return message


def digest_message(
    user: User, notifications: Sequence[Notification], day: dt.date
) -> EmailMultiAlternatives:
    """The daily digest of ``notifications`` for ``user`` (``day`` is their local date)."""
    entries = [{"notification": n, **_links(n)} for n in notifications]
    count = len(entries)
    context = {**_common(user), "entries": entries, "day": day, "count": count}
    with timezone.override(zone_of(user)):
        text = render_to_string("notifications/email/digest.txt", context)
        html = render_to_string("notifications/email/digest.html", context)
    subject = f"Your daily digest: {count} update{'s' if count != 1 else ''}, {day:%a %-d %b}"
    message = EmailMultiAlternatives(subject=_subject(subject), body=text, to=[user.email])
    message.attach_alternative(html, "text/html")
    return message
