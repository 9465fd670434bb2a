"""Reads of clients and engagements, filtered by who is asking."""

from __future__ import annotations

from django.db.models import QuerySet

from relaydesk.accounts.models import User
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.permissions import Permission, can


def visible_clients(actor: User) -> QuerySet[Client]:
    """Clients the actor may see: all for provider staff, their own for a client user."""
    if actor.is_client_user:
        return Client.objects.filter(pk=actor.client_id or 0)
    return Client.objects.all()


def visible_engagements(actor: User) -> QuerySet[Engagement]:
    """Engagements the actor may see.

    Provider admins and operations leads see all; a client user their client's;
    agents and reviewers only the engagements of items they can see.
    """
    from relaydesk.work.queries import visible_work_items

    engagements = Engagement.objects.select_related("client").prefetch_related("services")
    if actor.is_client_user:
        return engagements.filter(client_id=actor.client_id or 0)
    if can(actor.role_enum, Permission.VIEW_ALL_ENGAGEMENTS):
        return engagements.all()
    return engagements.filter(pk__in=visible_work_items(actor).values("engagement_id"))
