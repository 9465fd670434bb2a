"""The Security & compliance statement follows the configuration; it cannot claim what is off."""

from __future__ import annotations

import re

from django.test import override_settings

from tests.conftest import World, login, submit


def test_client_reads_its_own_statement_from_the_live_configuration(world: World) -> None:
    submit(world.member_a, world.engagement_a, with_file=True)
    page = login(world.member_a).get("/clients/security/").content.decode()
    assert "Alpha Law" in page and "Bravo Retail" not in page
    assert "PIP claims" in page and "PIP no-fault law" in page  # the engagement's certification
    assert "PH, US" in page and "Manila" in page  # residency and the sites it allows
    assert "1 stored, all encrypted" in page
    assert "Optional" in page  # the client has not required MFA


def test_the_statement_changes_when_a_control_changes(world: World) -> None:
    world.client_a.require_mfa = True
    world.client_a.save()
    world.engagement_a.allowed_countries = ["US"]
    world.engagement_a.save()
    with override_settings(AXES_FAILURE_LIMIT=3):
        page = login(world.client_admin_a).get("/clients/security/").content.decode()
    assert "required by your admin" in page
    assert "After 3 failed attempts" in page
    assert "Countries allowed: US<" in page


def test_provider_leads_see_every_clients_statement_agents_none(world: World) -> None:
    lead = login(world.lead)
    assert "Bravo Retail" in lead.get("/clients/").content.decode()
    assert lead.get(f"/clients/{world.client_b.slug}/security/").status_code == 200
    assert login(world.agent).get(f"/clients/{world.client_b.slug}/security/").status_code == 403
    assert login(world.member_a).get(f"/clients/{world.client_b.slug}/security/").status_code == 404


def test_the_statement_names_the_wall_between_clients_that_is_really_there(world: World) -> None:
    from django.db import connection

    submit(
        world.member_a,
        world.engagement_a,
        sensitive=(("national_id", "SSN", "123-45-6789"),),
    )
    page = login(world.member_a).get("/clients/security/").content.decode()
    assert "health data encrypted like documents (1 stored)" in page
    if connection.vendor == "postgresql":
        assert "PostgreSQL row-level security" in page
    else:
        assert "row-level security" not in page
        assert "Checked by the application on every request and every API call" in page


def test_every_reviewer_role_is_said_to_see_only_the_work_waiting_for_it(world: World) -> None:
    page = login(world.member_a).get("/clients/security/").content.decode()
    for label in ("QA reviewer", "Supervising attorney", "Senior analyst"):
        row = re.search(rf"<tr><td>{label}</td><td>1</td><td[^>]*>([^<]+)</td></tr>", page)
        assert row is not None, label
        assert row.group(1) == "Only items waiting for their review"
    agent = re.search(r"<tr><td>Agent</td><td>2</td><td[^>]*>([^<]+)</td></tr>", page)
    assert agent is not None and agent.group(1).startswith("Only items they hold")


def test_the_password_line_is_read_from_the_hashers_and_validators_configured(
    world: World,
) -> None:
    browser = login(world.member_a)
    page = browser.get("/clients/security/").content.decode()
    assert (
        "<dd>Argon2 hashing; not like their name or e-mail address, at least 12 characters, "
        "not common, not all digits</dd>"
    ) in page
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        AUTH_PASSWORD_VALIDATORS=[
            {
                "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
                "OPTIONS": {"min_length": 16},
            }
        ],
    ):
        page = browser.get("/clients/security/").content.decode()
    assert "<dd>PBKDF2-SHA256 hashing; at least 16 characters</dd>" in page
    assert "Argon2" not in page and "not common" not in page
    with override_settings(AUTH_PASSWORD_VALIDATORS=[]):
        page = browser.get("/clients/security/").content.decode()
    assert "<dd>Argon2 hashing; no rule on their length or content</dd>" in page
