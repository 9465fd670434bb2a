"""Two-factor sign-in: required for provider staff, optional per client, real allauth pages."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_enroll_demo_totp, do_set_client_mfa_requirement
from relaydesk.accounts.mfa import mfa_required
from relaydesk.accounts.models import SignInEvent, User
from relaydesk.audit.models import AuditRecord
from relaydesk.errors import NotAllowed, NotFound
from tests.accounts.support import totp_code
from tests.conftest import PASSWORD, World, login

SETUP = "/accounts/2fa/totp/activate/"


@pytest.fixture(autouse=True)
def _nobody_has_an_authenticator_yet(world: World) -> None:
    """These tests follow people from before they set up an app (the world gives staff one)."""
    Authenticator.objects.all().delete()


def sign_in_with_password(user: User) -> tuple[HttpClient, str]:
    """Post the sign-in form; returns the browser and where it was sent."""
    browser = HttpClient()
    response = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return browser, response["Location"]


def enroll_through_the_pages(browser: HttpClient) -> str:
    """Set up an authenticator app on the real page; returns its secret."""
    page = browser.get(SETUP)
    assert page.status_code == 200
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.content.decode())
    assert found, "the set-up page shows the key to type into the app"
    secret = found.group(1)
    wrong = browser.post(SETUP, {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    done = browser.post(SETUP, {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == "/accounts/2fa/recovery-codes/"
    return secret


def test_a_provider_user_without_an_authenticator_is_sent_to_set_one_up(world: World) -> None:
    browser, _ = sign_in_with_password(world.lead)
    refused = browser.get("/ops/", follow=True)
    assert refused.redirect_chain[-1][0] == SETUP
    assert "requires two-factor sign-in for provider staff" in refused.content.decode()
    # Not through the API with the same session either, nor any other page.
    assert browser.get("/api/v1/work-items").status_code == 403
    assert browser.get("/account/tokens/")["Location"] == SETUP
    # Signing out still works.
    assert browser.post("/accounts/logout/").status_code == 302
    assert browser.get("/ops/")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["admin", "lead", "agent", "qa", "attorney", "analyst"])
def test_every_provider_role_must_set_it_up_before_working(world: World, who: str) -> None:
    user = getattr(world, who)
    assert mfa_required(user)
    browser, _ = sign_in_with_password(user)
    assert browser.get("/", follow=True).redirect_chain[-1][0] == SETUP


def test_after_enrolling_through_the_pages_and_signing_in_with_a_code_they_can_work(
    world: World,
) -> None:
    browser, _ = sign_in_with_password(world.lead)
    secret = enroll_through_the_pages(browser)
    # The code they just typed proves the app: no second sign-in needed.
    assert browser.get("/ops/").status_code == 200
    codes = browser.get("/accounts/2fa/recovery-codes/").content.decode()
    assert len(re.findall(r"^\d{8}$", codes, re.MULTILINE)) == 10

    browser.post("/accounts/logout/")
    again, where = sign_in_with_password(world.lead)
    assert where == "/accounts/2fa/authenticate/"
    assert again.get("/ops/")["Location"].startswith("/accounts/login/"), (
        "password alone is not enough"
    )
    again, where = sign_in_with_password(world.lead)
    wrong = again.post(where, {"code": "12345"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    done = again.post(where, {"code": totp_code(secret)}, follow=True)
    assert done.redirect_chain[-1][0] == "/ops/"
    events = list(SignInEvent.objects.filter(user=world.lead).values_list("kind", "method"))
    assert ("signed_in", "mfa") in events and ("failed", "mfa") in events


def test_a_recovery_code_works_once(world: World) -> None:
    do_enroll_demo_totp(world.agent, "JBSWY3DPEHPK3PXP")
    recovery = Authenticator.objects.get(user=world.agent, type=Authenticator.Type.RECOVERY_CODES)
    code = RecoveryCodes(recovery).get_unused_codes()[0]

    browser, where = sign_in_with_password(world.agent)
    assert where == "/accounts/2fa/authenticate/"
    assert browser.post(where, {"code": code}, follow=True).redirect_chain[-1][0] == "/workspace/"
    browser.post("/accounts/logout/")

    browser, where = sign_in_with_password(world.agent)
    reused = browser.post(where, {"code": code})
    assert reused.status_code == 200 and "Incorrect code" in reused.content.decode()
    assert browser.get("/workspace/")["Location"].startswith("/accounts/login/")


def test_a_session_that_skipped_the_code_is_signed_out(world: World) -> None:
    """Another way in (the back office's own sign-in form) must not bypass the code."""
    do_enroll_demo_totp(world.admin, "JBSWY3DPEHPK3PXP")
    world.admin.is_staff = True
    world.admin.save()
    browser = HttpClient()
    response = browser.post(
        "/admin/login/", {"username": world.admin.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    bounced = browser.get("/admin/", follow=True)
    assert bounced.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "enter the code from your authenticator app" in bounced.content.decode()
    assert browser.get("/ops/")["Location"].startswith("/accounts/login/")


def test_someone_required_to_use_it_cannot_turn_it_off(world: World) -> None:
    do_enroll_demo_totp(world.lead, "JBSWY3DPEHPK3PXP")
    browser = login(world.lead)
    browser.post("/accounts/2fa/totp/deactivate/")
    assert Authenticator.objects.filter(user=world.lead, type="totp").exists()


def test_a_client_that_requires_it_holds_its_users_to_it(world: World) -> None:
    # Optional by default: the member works with a password alone.
    member, where = sign_in_with_password(world.member_a)
    assert where == "/" and member.get("/portal/").status_code == 200

    admin = login(world.client_admin_a)
    page = admin.get("/account/client-security/")
    assert page.status_code == 200 and "Member" in page.content.decode()
    saved = admin.post("/account/client-security/", {"require_mfa": "on"}, follow=True)
    assert "now required for Alpha Law" in saved.content.decode()
    world.client_a.refresh_from_db()
    assert world.client_a.require_mfa
    assert AuditRecord.objects.filter(action="client.require_mfa", client=world.client_a).exists()

    # The member's next page sends them to set it up; another client's users are untouched.
    refused = member.get("/portal/", follow=True)
    assert refused.redirect_chain[-1][0] == SETUP
    assert "Alpha Law requires two-factor sign-in" in refused.content.decode()
    other, _ = sign_in_with_password(world.member_b)
    assert other.get("/portal/").status_code == 200

    enroll_through_the_pages(member)
    assert member.get("/portal/").status_code == 200


def test_only_the_clients_own_admin_changes_the_rule(world: World) -> None:
    member = login(world.member_a)
    assert member.get("/account/client-security/").status_code == 403
    assert member.post("/account/client-security/", {"require_mfa": "on"}).status_code == 403
    # Another client's admin only ever reaches their own client through the page.
    other_admin = login(world.client_admin_b)
    other_admin.post("/account/client-security/", {"require_mfa": "on"})
    world.client_a.refresh_from_db()
    world.client_b.refresh_from_db()
    assert not world.client_a.require_mfa and world.client_b.require_mfa
    # And the action refuses them client A outright, as if it did not exist.
    with pytest.raises(NotFound):
        do_set_client_mfa_requirement(world.client_admin_b, world.client_a, required=True)
    with pytest.raises(NotAllowed):
        do_set_client_mfa_requirement(world.member_a, world.client_a, required=True)
    with pytest.raises(NotAllowed):
        do_set_client_mfa_requirement(world.lead, world.client_a, required=True)
    world.client_a.refresh_from_db()
    assert not world.client_a.require_mfa


def test_the_requirement_for_provider_staff_can_be_switched_off(world: World, settings) -> None:
    settings.RELAYDESK_REQUIRE_MFA_FOR_PROVIDER = False
    browser, _ = sign_in_with_password(world.lead)
    assert browser.get("/ops/").status_code == 200


def test_demo_enrolment_gives_a_known_secret_but_never_in_production(
    world: World, settings
) -> None:
    do_enroll_demo_totp(world.qa, "JBSWY3DPEHPK3PXP")
    browser, where = sign_in_with_password(world.qa)
    done = browser.post(where, {"code": totp_code("JBSWY3DPEHPK3PXP")}, follow=True)
    assert done.redirect_chain[-1][0] == "/workspace/reviews/"
    settings.PRODUCTION = True
    with pytest.raises(NotAllowed):
        do_enroll_demo_totp(world.attorney, "JBSWY3DPEHPK3PXP")
