"""Sites and agents, for the provider's own staff."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from relaydesk.accounts.models import User
from relaydesk.work.schemas import ErrorOut
from relaydesk.workforce.queries import visible_agents, visible_sites

router = Router(tags=["workforce"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 429: ErrorOut}


class SiteOut(Schema):
    """A delivery site."""

    code: str
    name: str
    country: str
    time_zone: str
    is_onshore: bool


class AgentOut(Schema):
    """An agent with their current load."""

    id: int
    full_name: str
    site: str
    languages: list[str]
    capacity: int
    load: int


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


@router.get("/sites", response={200: list[SiteOut], **ERRORS}, summary="List sites")
def list_sites(request: HttpRequest) -> list[SiteOut]:
    """The provider's delivery sites (none for client users)."""
    return [
        SiteOut(
            code=s.code,
            name=s.name,
            country=s.country,
            time_zone=s.time_zone,
            is_onshore=s.is_onshore,
        )
        for s in visible_sites(_user(request))
    ]


@router.get("/agents", response={200: list[AgentOut], **ERRORS}, summary="List agents")
def list_agents(request: HttpRequest) -> list[AgentOut]:
    """Agents and how many items each holds (none for client users)."""
    return [
        AgentOut(
            id=a.pk,
            full_name=a.user.full_name,
            site=a.site.name,
            languages=a.languages,
            capacity=a.capacity,
            load=a.load,  # type: ignore[attr-defined]
        )
        for a in visible_agents(_user(request))
    ]
