"""Reads of e-mail intake: which intake address a message is for, which item a reply is on,
and who may see the quarantine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.mailintake.models import (
    IngestedMessage,
    IntakeAddress,
    QuarantinedMessage,
    intake_domain,
)
from relaydesk.mailintake.parsing import message_id_hash
from relaydesk.work.models import WorkItem


def intake_local_part(address: str) -> str | None:
    """The local part of ``address`` if it is at the intake domain, without a ``+tag``."""
    local, _, domain = address.strip().lower().rpartition("@")
    if not local or domain != intake_domain():
        return None
    return local.partition("+")[0] or None


def intake_address_for(recipients: Iterable[str]) -> IntakeAddress | None:
    """The intake address a message was delivered to: the first of ``recipients`` (delivery
    headers first, then To and Cc) that names one, switched on or off. Trusted intake only."""
    wanted = [local for local in map(intake_local_part, recipients) if local]
    if not wanted:
        return None
    found = {
        address.local_part: address
        for address in IntakeAddress.objects.select_related(
            "client", "engagement", "service", "submit_as"
        ).filter(local_part__in=wanted)
    }
    return next((found[local] for local in wanted if local in found), None)


def item_replied_to(message_ids: Iterable[str]) -> WorkItem | None:
    """The item an earlier message of the thread (by Message-ID) created or was filed on.

    Trusted intake only: it looks across clients, so that a reply into another
    client's thread is caught rather than filed as new work.
    """
    hashes = [message_id_hash(m) for m in message_ids if m]
    if not hashes:
        return None
    earlier = (
        IngestedMessage.objects.filter(message_id_hash__in=hashes, item__isnull=False)
        .select_related("item")
        .order_by("-ingested_at", "-id")
        .first()
    )
    return earlier.item if earlier is not None else None


def visible_quarantine(actor: User) -> QuerySet[QuarantinedMessage]:
    """Quarantined messages ``actor`` may handle: all for those who manage mail intake."""
    messages = QuarantinedMessage.objects.select_related("client", "intake_address")
    if not can(actor.role_enum, Permission.MANAGE_MAIL_INTAKE):
        return messages.none()
    return messages


def visible_intake_addresses(actor: User) -> QuerySet[IntakeAddress]:
    """Intake addresses ``actor`` may see: their own client's, or all for the provider."""
    addresses = IntakeAddress.objects.select_related("client", "engagement", "service")
    if actor.is_client_user:
        return addresses.filter(client_id=actor.client_id or 0)
    if can(actor.role_enum, Permission.VIEW_ALL_ENGAGEMENTS):
        return addresses
    return addresses.none()


def active_intake_addresses(actor: User, *, on: dt.date) -> QuerySet[IntakeAddress]:
    """The switched-on intake addresses ``actor`` may see of engagements running ``on``:
    where their client's people send work by e-mail (a switched-off address, or one of an
    engagement not running, only quarantines its mail)."""
    return (
        visible_intake_addresses(actor)
        .filter(active=True, engagement__starts_on__lte=on)
        .filter(Q(engagement__ends_on__isnull=True) | Q(engagement__ends_on__gte=on))
        .order_by("engagement__name", "pk")
    )
