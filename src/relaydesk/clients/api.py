"""Engagements, as the caller may see them."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.errors import NotFound
from relaydesk.mailintake.queries import active_intake_addresses
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["engagements"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class EngagementOut(Schema):
    """An engagement: the contract for some services."""

    id: int
    client: str
    name: str
    services: list[str]
    time_zone: str
    coverage: str
    allowed_countries: list[str]
    pricing_basis: str
    starts_on: dt.date
    ends_on: dt.date | None
    intake_address: str | None = Field(
        default=None,
        description="Where the client's people send or forward work by e-mail, from the "
        "address they sign in with: each message becomes a work item, its attachments the "
        "item's documents, and a reply that keeps the RD-… reference is added to that item. "
        "Null when the engagement takes no mail (or you may not see its address).",
    )


def _intake_addresses(user: User, engagements: list[Engagement]) -> dict[int, str]:
    """The switched-on intake address of each of ``engagements`` that ``user`` may see."""
    running = active_intake_addresses(user, on=timezone.localdate())
    found = running.filter(engagement_id__in=[e.pk for e in engagements])
    return {address.engagement_id: address.address for address in found}


def _out(e: Engagement, intake_address: str | None = None) -> EngagementOut:
    return EngagementOut(
        id=e.pk,
        client=e.client.name,
        name=e.name,
        services=sorted(s.slug for s in e.services.all()),
        time_zone=e.time_zone,
        coverage=e.coverage,
        allowed_countries=e.allowed_countries,
        pricing_basis=e.pricing_basis,
        starts_on=e.starts_on,
        ends_on=e.ends_on,
        intake_address=intake_address,
    )


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


@router.get(
    "/engagements", response={200: list[EngagementOut], **ERRORS}, summary="List engagements"
)
def list_engagements(request: HttpRequest) -> list[EngagementOut]:
    """Your client's engagements (provider staff: all), each with its e-mail intake address."""
    user = _user(request)
    engagements = list(visible_engagements(user))
    addresses = _intake_addresses(user, engagements)
    return [_out(e, addresses.get(e.pk)) for e in engagements]


@router.get(
    "/engagements/{engagement_id}",
    response={200: EngagementOut, **ERRORS},
    summary="Get an engagement",
)
def get_engagement(request: HttpRequest, engagement_id: int) -> EngagementOut:
    """One engagement, with its e-mail intake address."""
    user = _user(request)
    engagement = visible_engagements(user).filter(pk=engagement_id).first()
    if engagement is None:
        raise NotFound(f"No engagement {engagement_id}.")
    return _out(engagement, _intake_addresses(user, [engagement]).get(engagement.pk))
