"""Engagements, as the caller may see them."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.errors import NotFound
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


def _out(e: Engagement) -> EngagementOut:
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
    )


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


@router.get(
    "/engagements", response={200: list[EngagementOut], **ERRORS}, summary="List engagements"
)
def list_engagements(request: HttpRequest) -> list[EngagementOut]:
    """Your client's engagements (provider staff: all)."""
    return [_out(e) for e in visible_engagements(_user(request))]


@router.get(
    "/engagements/{engagement_id}",
    response={200: EngagementOut, **ERRORS},
    summary="Get an engagement",
)
def get_engagement(request: HttpRequest, engagement_id: int) -> EngagementOut:
    """One engagement."""
    engagement = visible_engagements(_user(request)).filter(pk=engagement_id).first()
    if engagement is None:
        raise NotFound(f"No engagement {engagement_id}.")
    return _out(engagement)
