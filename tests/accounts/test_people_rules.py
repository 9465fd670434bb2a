"""Adding people and a client's sign-in rules: decided by the permission matrix, for every role.

Each table below is what every role may do, written out by hand; the tests check the
actions and the page against it, and that it agrees with ``MANAGE_PEOPLE``.
"""

from __future__ import annotations

import pytest

from relaydesk.accounts.actions import do_create_user, do_set_client_mfa_requirement
from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, can
from relaydesk.core.roles import Role
from relaydesk.errors import ActionRefused, NotAllowed, NotFound
from tests.conftest import PASSWORD, World, login

EVERYONE = [
    "provider_admin",
    "ops_lead",
    "agent",
    "other_agent",
    "qa_reviewer",
    "supervising_attorney",
    "senior_analyst",
    "client_admin_a",
    "client_member_a",
    "client_admin_b",
    "client_member_b",
]

# Who may add a member to client A, and a provider agent: "ok" or the refusal.
ADDS_CLIENT_A_MEMBER = {"provider_admin": "ok", "client_admin_a": "ok"}
ADDS_PROVIDER_AGENT = {"provider_admin": "ok"}
# Who may switch on two-factor sign-in for client A's users.
SETS_CLIENT_A_RULE = {
    "provider_admin": "ok",
    "client_admin_a": "ok",
    "client_admin_b": NotFound,
    "client_member_b": NotFound,
}
# Who may open their own client's sign-in rules page.
OPENS_SIGN_IN_RULES = {"client_admin_a": 200, "client_admin_b": 200}


def _outcome(action: object) -> object:
    try:
        action()  # type: ignore[operator]
    except ActionRefused as refusal:
        return type(refusal)
    return "ok"


@pytest.mark.parametrize("who", EVERYONE)
def test_who_may_add_people(world: World, who: str) -> None:
    actor = world.users()[who]

    def add(email: str, role: Role, client: object) -> object:
        return lambda: do_create_user(
            actor,
            email=email,
            full_name="New Person",
            role=role,
            password=PASSWORD,
            client=client,  # type: ignore[arg-type]
        )

    member = _outcome(add("new@alpha.test", Role.CLIENT_MEMBER, world.client_a))
    agent = _outcome(add("new@provider.test", Role.AGENT, None))
    assert member == ADDS_CLIENT_A_MEMBER.get(who, NotAllowed)
    assert agent == ADDS_PROVIDER_AGENT.get(who, NotAllowed)
    assert User.objects.filter(email="new@alpha.test").exists() == (member == "ok")
    # Only holders of the permission add anyone; a client's admin adds only to their client.
    assert can(actor.role_enum, Permission.MANAGE_PEOPLE) == (
        member == "ok" or who == "client_admin_b"
    )


@pytest.mark.parametrize("who", EVERYONE)
def test_who_may_set_a_clients_sign_in_rule(world: World, who: str) -> None:
    actor = world.users()[who]
    outcome = _outcome(lambda: do_set_client_mfa_requirement(actor, world.client_a, required=True))
    assert outcome == SETS_CLIENT_A_RULE.get(who, NotAllowed)
    world.client_a.refresh_from_db()
    assert world.client_a.require_mfa == (outcome == "ok")


@pytest.mark.parametrize("who", EVERYONE)
def test_who_may_open_the_sign_in_rules_page(world: World, who: str) -> None:
    user = world.users()[who]
    expected = OPENS_SIGN_IN_RULES.get(who, 403)
    browser = login(user)
    page = browser.get("/account/client-security/")
    assert page.status_code == expected
    if expected == 403:
        assert "This page is for: Client admin." in page.content.decode()
        assert browser.post("/account/client-security/", {"require_mfa": "on"}).status_code == 403
    else:
        assert user.client is not None and user.client.name in page.content.decode()
