"""Who am I: the caller's identity and role."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from relaydesk.accounts.models import User
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["people"])
ERRORS = {401: ErrorOut, 403: ErrorOut, 429: ErrorOut}


class MeOut(Schema):
    """The signed-in person."""

    id: int
    email: str
    full_name: str
    role: str
    client: str | None
    time_zone: str


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The caller")
def me(request: HttpRequest) -> MeOut:
    """Who the session or token belongs to."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return MeOut(
        id=user.pk,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        client=user.client.name if user.client else None,
        time_zone=user.time_zone,
    )
