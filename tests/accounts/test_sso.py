"""Single sign-on per client: real allauth objects and flow, no identity provider on the network.

Each test hands allauth the claims an IdP would return and lets the real sign-in
flow (``complete_social_login``) and our adapter decide.
"""

from __future__ import annotations

from typing import Any

import pytest
from allauth.core import context
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import ClientSSO, SignInEvent, User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.roles import Role
from tests.conftest import World


def _app(provider_id: str, name: str) -> SocialApp:
    return SocialApp.objects.create(
        provider="openid_connect",
        provider_id=provider_id,
        name=name,
        client_id=f"{provider_id}-client",
        secret="not-used-here",
        settings={"server_url": f"https://{provider_id}.example"},
    )


@pytest.fixture
def alpha_sso(world: World) -> ClientSSO:
    return ClientSSO.objects.create(
        client=world.client_a, app=_app("alpha-idp", "Alpha Law SSO"), domains=["alpha.test"]
    )


@pytest.fixture
def bravo_sso(world: World) -> ClientSSO:
    return ClientSSO.objects.create(
        client=world.client_b, app=_app("bravo-idp", "Bravo SSO"), domains=["bravo.test"]
    )


def sso_sign_in(
    app: SocialApp, email: str, *, sub: str = "", verified: bool = True
) -> tuple[HttpRequest, HttpResponse]:
    """What happens when ``app``'s IdP says the person is ``email``."""
    request = RequestFactory().get(f"/accounts/oidc/{app.provider_id}/login/callback/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    MessageMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = AnonymousUser()
    claims: dict[str, Any] = {
        "sub": sub or f"sub-{email}",
        "email": email,
        "email_verified": verified,
        "name": "Pat Example",
    }
    with context.request_context(request):
        provider = app.get_provider(request)
        sociallogin = provider.sociallogin_from_response(request, {"userinfo": claims})
        response = complete_social_login(request, sociallogin)
    return request, response


def signed_in_as(request: HttpRequest) -> Any:
    return request.user if request.user.is_authenticated else None


def test_a_clients_idp_signs_in_and_links_that_clients_user(
    world: World, alpha_sso: ClientSSO
) -> None:
    request, response = sso_sign_in(alpha_sso.app, "Member@Alpha.test", sub="alpha-42")
    assert response.status_code == 302
    assert signed_in_as(request) == world.member_a
    assert SocialAccount.objects.get(provider="alpha-idp", uid="alpha-42").user == world.member_a
    assert SignInEvent.objects.filter(user=world.member_a, kind="signed_in", method="sso").exists()
    # Next time the link itself signs them in.
    request, _ = sso_sign_in(alpha_sso.app, "member@alpha.test", sub="alpha-42")
    assert signed_in_as(request) == world.member_a


@pytest.mark.parametrize(
    "email",
    [
        "admin@provider.test",  # provider staff: never through a client's IdP
        "member@bravo.test",  # another client's user
        "someone@elsewhere.test",
    ],
)
def test_addresses_outside_the_clients_domains_are_refused(
    world: World, alpha_sso: ClientSSO, bravo_sso: ClientSSO, email: str
) -> None:
    request, response = sso_sign_in(alpha_sso.app, email)
    assert response.status_code == 403
    assert "alpha.test" in response.content.decode()
    assert signed_in_as(request) is None
    assert not SocialAccount.objects.exists()


def test_another_clients_idp_cannot_reach_this_clients_users(
    world: World, alpha_sso: ClientSSO, bravo_sso: ClientSSO
) -> None:
    request, response = sso_sign_in(bravo_sso.app, "member@alpha.test")
    assert response.status_code == 403 and signed_in_as(request) is None
    # Even if client B's set-up wrongly claimed client A's domain, A's users stay out of reach...
    bravo_sso.domains = ["bravo.test", "alpha.test"]
    with pytest.raises(ValidationError, match="already belongs to Alpha Law"):
        bravo_sso.full_clean()
    bravo_sso.save()
    bravo_sso.app.refresh_from_db()
    request, response = sso_sign_in(bravo_sso.app, "member@alpha.test")
    assert response.status_code == 403 and signed_in_as(request) is None
    assert not SocialAccount.objects.exists()


def test_provider_staff_at_a_clients_domain_are_never_signed_in_by_it(
    world: World, alpha_sso: ClientSSO
) -> None:
    ops = do_create_user(
        None, email="ops@alpha.test", full_name="Ops", role=Role.OPS_LEAD, password="x" * 16
    )
    request, response = sso_sign_in(alpha_sso.app, "ops@alpha.test")
    assert response.status_code == 403 and signed_in_as(request) is None
    # Nor through an identity that was somehow linked to them before.
    SocialAccount.objects.create(user=ops, provider="alpha-idp", uid="linked-ops", extra_data={})
    request, response = sso_sign_in(alpha_sso.app, "someone.new@alpha.test", sub="linked-ops")
    assert response.status_code == 403 and signed_in_as(request) is None


def test_unknown_people_get_an_account_only_when_the_client_allows_it(
    world: World, alpha_sso: ClientSSO
) -> None:
    request, response = sso_sign_in(alpha_sso.app, "new.hire@alpha.test")
    assert (
        response.status_code == 403
        and "no Relaydesk account for new.hire@alpha.test" in response.content.decode()
    )
    assert not User.objects.filter(email="new.hire@alpha.test").exists()

    alpha_sso.allow_signup = True
    alpha_sso.save()
    request, response = sso_sign_in(alpha_sso.app, "New.Hire@alpha.test")
    created = User.objects.get(email="new.hire@alpha.test")
    assert signed_in_as(request) == created
    assert created.role == Role.CLIENT_MEMBER.value and created.client == world.client_a
    assert created.full_name == "Pat Example" and not created.has_usable_password()
    assert AuditRecord.objects.filter(action="user.create", object_id=str(created.pk)).exists()


def test_an_address_the_idp_did_not_confirm_links_nothing(
    world: World, alpha_sso: ClientSSO
) -> None:
    request, response = sso_sign_in(alpha_sso.app, "member@alpha.test", verified=False)
    assert response.status_code == 403 and signed_in_as(request) is None
    assert not SocialAccount.objects.exists()


def test_an_idp_no_client_owns_signs_in_no_one(world: World) -> None:
    stray = _app("stray-idp", "Stray")
    request, response = sso_sign_in(stray, "member@alpha.test")
    assert response.status_code == 403 and signed_in_as(request) is None
