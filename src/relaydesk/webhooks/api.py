"""The webhooks API: a client admin's endpoints, their deliveries, test events and retries.

The provider's admins and operations leads may read every client's endpoints
and deliveries; only the client's admins change them.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import NotAllowed, NotFound
from relaydesk.web import client_ip
from relaydesk.webhooks import actions, queries
from relaydesk.webhooks.models import WebhookDelivery, WebhookEndpoint
from relaydesk.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    DeliveryStateName,
    EndpointCreatedOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    RollSecretIn,
    SecretOut,
)
from relaydesk.work.api import ERRORS
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["webhooks"])

READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def _may_read(user: User) -> None:
    if not can(user.role_enum, Permission.VIEW_WEBHOOKS):
        raise NotAllowed("Your role does not see webhooks; your firm's admins set them up.")


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = queries.get_visible_endpoint(_user(request), endpoint_id)
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    """An endpoint as the API shows it (never its secret)."""
    return EndpointOut(
        id=endpoint.pk,
        engagement_id=endpoint.engagement_id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=endpoint.event_labels,
        active=endpoint.active,
        secret_hint=endpoint.secret_hint,
        previous_secret_expires_at=(
            endpoint.previous_secret_expires_at if endpoint.previous_secret_signs() else None
        ),
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    """A delivery as the API shows it."""
    return DeliveryOut(
        id=delivery.pk,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        state=delivery.state,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        last_response_ms=delivery.last_response_ms,
        created_at=delivery.created_at,
        payload=delivery.payload,
    )


class EndpointFilter(Schema):
    """Which endpoints: those of one engagement, or all you may see."""

    engagement_id: int | None = None


@router.get(
    "/webhook-endpoints",
    response={200: list[EndpointOut], **READ_ERRORS},
    summary="List webhook endpoints",
)
def list_endpoints(request: HttpRequest, filters: Query[EndpointFilter]) -> list[EndpointOut]:
    """The webhook endpoints you may see, by engagement: your client's for its admins, every
    client's for provider admins and operations leads. 403 for other roles."""
    user = _user(request)
    _may_read(user)
    endpoints = queries.visible_endpoints(user)
    if filters.engagement_id is not None:
        endpoints = endpoints.filter(engagement_id=filters.engagement_id)
    return [endpoint_out(e) for e in endpoints]


@router.post(
    "/webhook-endpoints",
    response={201: EndpointCreatedOut, **ERRORS},
    summary="Add a webhook endpoint",
)
def create_endpoint(request: HttpRequest, payload: EndpointIn) -> Status[EndpointCreatedOut]:
    """Add an endpoint to one of your engagements: 201 with the endpoint and its signing
    ``secret``, which is given only this once. 403 for anyone but the client's admins; 409
    when the engagement already has 10 endpoints; 422 for a URL that is not https:// (or
    http://127.0.0.1 / localhost for testing), carries a user name or password, or points
    at a private network, for no events, or for an engagement that is not yours."""
    endpoint, secret = actions.do_create_endpoint(
        _user(request),
        engagement_id=payload.engagement_id,
        url=payload.url,
        event_types=payload.event_types,
        description=payload.description,
        active=payload.active,
        source_ip=client_ip(request),
    )
    shown = endpoint_out(endpoint).dict()
    return Status(201, EndpointCreatedOut(**shown, secret=secret))


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response={200: EndpointOut, **READ_ERRORS},
    summary="A webhook endpoint",
)
def get_endpoint(request: HttpRequest, endpoint_id: int) -> EndpointOut:
    """One endpoint you may see (404 otherwise)."""
    return endpoint_out(_endpoint(request, endpoint_id))


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response={200: EndpointOut, **ERRORS},
    summary="Change a webhook endpoint",
)
def update_endpoint(request: HttpRequest, endpoint_id: int, payload: EndpointPatch) -> EndpointOut:
    """Change the URL, events, description or ``active``; fields left out stay. Disabling
    gives up the deliveries still waiting. 403 for anyone but the client's admins; 422 as
    when adding one."""
    endpoint = actions.do_update_endpoint(
        _user(request),
        _endpoint(request, endpoint_id),
        url=payload.url,
        event_types=payload.event_types,
        description=payload.description,
        active=payload.active,
        source_ip=client_ip(request),
    )
    return endpoint_out(endpoint)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    response={204: None, **ERRORS},
    summary="Delete a webhook endpoint",
)
def delete_endpoint(request: HttpRequest, endpoint_id: int) -> Status[None]:
    """Delete the endpoint and its delivery log: 204. 403 for anyone but the client's admins."""
    actions.do_delete_endpoint(
        _user(request), _endpoint(request, endpoint_id), source_ip=client_ip(request)
    )
    return Status(204, None)


@router.post(
    "/webhook-endpoints/{endpoint_id}/roll-secret",
    response={200: SecretOut, **ERRORS},
    summary="Roll a webhook endpoint's signing secret",
)
def roll_secret(request: HttpRequest, endpoint_id: int, payload: RollSecretIn) -> SecretOut:
    """A new signing secret, given only this once. The old one keeps signing beside it for
    ``keep_previous_hours`` (24 by default, 0 to 168): during that time each request carries
    two ``v1`` signatures. 403 for anyone but the client's admins."""
    user = _user(request)
    secret = actions.do_roll_secret(
        user,
        _endpoint(request, endpoint_id),
        keep_previous_hours=payload.keep_previous_hours,
        source_ip=client_ip(request),
    )
    fresh = _endpoint(request, endpoint_id)
    return SecretOut(
        secret=secret,
        previous_secret_expires_at=(
            fresh.previous_secret_expires_at if fresh.previous_secret_signs() else None
        ),
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    response={200: DeliveryOut, **ERRORS},
    summary="Send a test event",
)
def send_test_event(request: HttpRequest, endpoint_id: int) -> DeliveryOut:
    """Send a ``ping`` event to the endpoint now and answer with its delivery: ``state``
    ``succeeded`` on a 2xx answer within 5 seconds, else ``failed`` with ``last_error``
    (a test event is not retried). 403 for anyone but the client's admins."""
    delivery = actions.do_send_test_event(
        _user(request), _endpoint(request, endpoint_id), source_ip=client_ip(request)
    )
    return delivery_out(delivery)


class DeliveryFilter(Schema):
    """Which deliveries: one state or all, one page of them."""

    state: DeliveryStateName | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response={200: DeliveryPage, **READ_ERRORS},
    summary="A webhook endpoint's deliveries",
)
def list_deliveries(
    request: HttpRequest, endpoint_id: int, filters: Query[DeliveryFilter]
) -> DeliveryPage:
    """The endpoint's deliveries, newest first (kept 30 days, less under a shorter
    retention), with each event as sent, its state, attempts, next retry and the last
    answer or error."""
    user = _user(request)
    deliveries = queries.visible_deliveries(user, _endpoint(request, endpoint_id))
    if filters.state:
        deliveries = deliveries.filter(state=filters.state)
    page = deliveries[filters.offset : filters.offset + filters.limit]
    return DeliveryPage(count=deliveries.count(), items=[delivery_out(d) for d in page])


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
    response={200: DeliveryOut, **ERRORS},
    summary="Send a delivery again now",
)
def retry_delivery(request: HttpRequest, endpoint_id: int, delivery_id: int) -> DeliveryOut:
    """Send a failed or given-up delivery again now and answer with its new state. 409 if it
    succeeded already or is being sent right now; 403 for anyone but the client's admins."""
    user = _user(request)
    endpoint = _endpoint(request, endpoint_id)
    delivery = queries.get_visible_delivery(user, endpoint, delivery_id)
    if delivery is None:
        raise NotFound(f"No delivery {delivery_id} of webhook endpoint {endpoint_id}.")
    return delivery_out(actions.do_retry_delivery(user, delivery, source_ip=client_ip(request)))
