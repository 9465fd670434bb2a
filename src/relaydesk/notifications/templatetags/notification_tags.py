"""The unread count beside the bell in every page's header."""

from __future__ import annotations

from typing import Any

from django import template

from relaydesk.accounts.models import User
from relaydesk.notifications.queries import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: dict[str, Any]) -> int:
    """How many of the signed-in person's notifications are unread (0 when signed out)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return 0
    return unread_count(user)


@register.filter
def badge_count(count: int) -> str:
    """The count as the badge shows it: 1 to 99, then "99+"."""
    return "99+" if count > 99 else str(count)
