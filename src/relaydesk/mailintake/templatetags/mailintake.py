"""Portal snippets that tell a client's people where to send work by e-mail.

``{% load mailintake %}``, then ``{% send_work_by_email %}`` (a card listing the
person's engagements with their intake addresses) or
``{% intake_address_line engagement %}`` (one engagement's address on one line).
Only the signed-in person's own client's switched-on addresses of engagements
running today are shown, and only to those who may submit work.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.timezone import localdate

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core.permissions import Permission, can
from relaydesk.mailintake.models import IntakeAddress
from relaydesk.mailintake.queries import active_intake_addresses

register = template.Library()

INTAKE_HINT = (
    "Send or forward mail here from the address you sign in with: each message becomes a "
    "request, its attachments the request's documents, and a reply that keeps the RD-… "
    "reference is added to that request."
)


def _sender(context: template.Context) -> User | None:
    """The signed-in person, if they may send work by e-mail."""
    user = getattr(context.get("request"), "user", None)
    if not isinstance(user, User) or not user.is_client_user:
        return None
    return user if can(user.role_enum, Permission.SUBMIT_WORK) else None


@register.inclusion_tag("mailintake/_send_work_by_email.html", takes_context=True)
def send_work_by_email(context: template.Context) -> dict[str, Any]:
    """A card with the intake address of each of the person's current engagements."""
    user = _sender(context)
    addresses: list[IntakeAddress] = []
    if user is not None:
        addresses = list(active_intake_addresses(user, on=localdate()))
    return {"addresses": addresses, "hint": INTAKE_HINT}


@register.inclusion_tag("mailintake/_intake_address_line.html", takes_context=True)
def intake_address_line(context: template.Context, engagement: Engagement | None) -> dict[str, Any]:
    """One line with ``engagement``'s intake address, or nothing when it takes no mail."""
    user = _sender(context)
    address = None
    if user is not None and engagement is not None:
        found = active_intake_addresses(user, on=localdate())
        address = found.filter(engagement_id=engagement.pk).first()
    return {"intake": address, "hint": INTAKE_HINT}
