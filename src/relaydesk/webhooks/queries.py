"""Reads of webhook endpoints and deliveries, narrowed to what the actor may see.

A client's admins see their own client's endpoints and manage them; provider
admins and operations leads see every client's, read-only. Everyone else sees none.
"""

from __future__ import annotations

from django.db.models import QuerySet

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core.permissions import Permission, can
from relaydesk.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "can_manage_webhooks",
    "get_visible_delivery",
    "get_visible_endpoint",
    "last_deliveries",
    "manageable_engagements",
    "visible_deliveries",
    "visible_endpoints",
]


def can_manage_webhooks(actor: User) -> bool:
    """True for a client's admin, who sets up the client's own endpoints."""
    return can(actor.role_enum, Permission.MANAGE_WEBHOOKS) and actor.client_id is not None


def visible_endpoints(actor: User) -> QuerySet[WebhookEndpoint]:
    """The endpoints ``actor`` may see: their client's, every client's for the provider's
    admins and leads, none for anyone else."""
    endpoints = WebhookEndpoint.objects.select_related("engagement", "client", "created_by")
    if not can(actor.role_enum, Permission.VIEW_WEBHOOKS):
        return endpoints.none()
    if actor.is_client_user:
        return endpoints.filter(client_id=actor.client_id or 0)
    return endpoints.all()


def get_visible_endpoint(actor: User, endpoint_id: int) -> WebhookEndpoint | None:
    """One endpoint ``actor`` may see, or ``None`` (whether or not it exists)."""
    return visible_endpoints(actor).filter(pk=endpoint_id).first()


def visible_deliveries(actor: User, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The deliveries of ``endpoint`` (one ``actor`` may see), newest first."""
    if get_visible_endpoint(actor, endpoint.pk) is None:
        return WebhookDelivery.objects.none()
    return WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, client_id=endpoint.client_id)


def get_visible_delivery(
    actor: User, endpoint: WebhookEndpoint, delivery_id: int
) -> WebhookDelivery | None:
    """One delivery of ``endpoint`` that ``actor`` may see, or ``None``."""
    return visible_deliveries(actor, endpoint).filter(pk=delivery_id).first()


def last_deliveries(actor: User, endpoints: list[WebhookEndpoint]) -> dict[int, WebhookDelivery]:
    """The newest delivery of each of ``endpoints`` that ``actor`` may see, by endpoint id."""
    seen = visible_endpoints(actor).filter(pk__in=[e.pk for e in endpoints])
    newest: dict[int, WebhookDelivery] = {}
    rows = WebhookDelivery.objects.filter(endpoint__in=seen).order_by(
        "endpoint_id", "-created_at", "-id"
    )
    for delivery in rows:
        newest.setdefault(delivery.endpoint_id, delivery)
    return newest


def manageable_engagements(actor: User) -> QuerySet[Engagement]:
    """The engagements whose endpoints ``actor`` may set up: their own client's, for its admins."""
    if not can_manage_webhooks(actor):
        return Engagement.objects.none()
    return Engagement.objects.filter(client_id=actor.client_id or 0).order_by("name", "pk")
