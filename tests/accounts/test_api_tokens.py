"""API tokens keep to the two-factor rule of the sign-in pages.

Whoever must use two-factor sign-in (every provider role; a client's users when their
client requires it) and has no authenticator app gets neither a new token nor any use
of an old one: a 403 that says why, until they set one up.
"""

from __future__ import annotations

import io

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token, do_set_client_mfa_requirement
from relaydesk.accounts.models import ApiToken, User
from relaydesk.audit.models import AuditRecord
from relaydesk.errors import NotAllowed
from tests.conftest import STAFF_TOTP_SECRET, World

PROVIDER_STAFF = ["admin", "lead", "agent", "other_agent", "qa", "attorney", "analyst"]


def token_of(user: User) -> HttpClient:
    _, secret = do_create_api_token(user, name="sync")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def without_authenticator(user: User) -> None:
    """As after the provider's admin reset a lost phone: no app until they set one up again."""
    Authenticator.objects.filter(user=user).delete()


@pytest.mark.parametrize("who", PROVIDER_STAFF)
def test_a_staff_token_stops_working_while_its_owner_has_no_authenticator(
    world: World, who: str
) -> None:
    user: User = getattr(world, who)
    api = token_of(user)
    assert api.get("/api/v1/me").status_code == 200

    without_authenticator(user)
    refused = api.get("/api/v1/me")
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("application/json")
    assert refused.json() == {
        "detail": "Relaydesk requires two-factor sign-in for provider staff. This API token "
        "works again once its owner has set up an authenticator app "
        "(Security › Two-factor sign-in)."
    }
    # Writes are refused the same way, before anything else is looked at.
    assert api.post("/api/v1/work-items", "{}", content_type="application/json").status_code == 403
    denial = AuditRecord.objects.filter(action="permission.denied").latest("seq")
    assert denial.actor == user and "two-factor" in denial.detail["reason"]

    TOTP.activate(user, STAFF_TOTP_SECRET)
    assert api.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("who", PROVIDER_STAFF)
def test_staff_without_an_authenticator_cannot_create_a_token(world: World, who: str) -> None:
    user: User = getattr(world, who)
    without_authenticator(user)
    with pytest.raises(NotAllowed, match=r"^Relaydesk requires two-factor sign-in"):
        do_create_api_token(user, name="sync")
    with pytest.raises(CommandError, match="before creating an API token"):
        call_command("token", "create", user=user.email, name="sync", stdout=io.StringIO())
    assert not ApiToken.objects.filter(user=user).exists()


def test_the_provider_rule_can_be_switched_off_for_tokens_too(world: World, settings) -> None:
    settings.RELAYDESK_REQUIRE_MFA_FOR_PROVIDER = False
    without_authenticator(world.lead)
    assert token_of(world.lead).get("/api/v1/me").status_code == 200


def test_a_client_user_needs_an_authenticator_once_their_client_requires_it(
    world: World,
) -> None:
    member = world.member_a
    api = token_of(member)  # Alpha does not require two-factor sign-in yet
    assert api.get("/api/v1/work-items").status_code == 200

    do_set_client_mfa_requirement(world.client_admin_a, world.client_a, required=True)
    refused = api.get("/api/v1/work-items")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(
        "Alpha Law requires two-factor sign-in for its users. This API token works again"
    )
    with pytest.raises(NotAllowed, match="before creating an API token"):
        do_create_api_token(member, name="another")
    # Another client's users are not bound by Alpha's choice.
    assert token_of(world.member_b).get("/api/v1/work-items").status_code == 200

    TOTP.activate(member, STAFF_TOTP_SECRET)
    assert api.get("/api/v1/work-items").status_code == 200
    assert do_create_api_token(member, name="another")[0].user == member


def test_the_openapi_schema_documents_the_refusal(world: World) -> None:
    schema = HttpClient().get("/api/v1/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["PersonalToken"]
    assert "403" in scheme["description"] and "two-factor" in scheme["description"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            forbidden = operation["responses"]["403"]["description"]
            assert "two-factor sign-in" in forbidden, f"{method.upper()} {path}"
