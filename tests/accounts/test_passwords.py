"""Passwords: stored as Argon2 hashes, and held to the configured validators wherever set.

The places a person sets a password: the back office (adding a person, changing a
password), ``relaydesk createadmin``, and the sign-in pages' change and reset forms.
Sign-up is closed: people are added in the back office.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as HttpClient
from django.test import override_settings

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.config import settings as production
from relaydesk.core.roles import Role
from tests.conftest import PASSWORD, World, login

TOO_SHORT = "This password is too short. It must contain at least 12 characters."
TOO_COMMON = "This password is too common."


def test_the_real_settings_store_passwords_as_argon2id(world: World) -> None:
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        user = do_create_user(
            None,
            email="new.hire@provider.test",
            full_name="New Hire",
            role=Role.AGENT,
            password=PASSWORD,
        )
        stored = User.objects.get(pk=user.pk).password
        assert stored.startswith("argon2$argon2id$"), stored.split("$")[0]
        assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_createadmin_compares_the_password_with_the_admins_own_details(
    monkeypatch: pytest.MonkeyPatch, db: None
) -> None:
    monkeypatch.setenv("RELAYDESK_ADMIN_PASSWORD", "annabelle.lindqvist")
    with pytest.raises(CommandError, match="too similar to the email"):
        call_command(
            "createadmin",
            email="annabelle.lindqvist@provider.test",
            name="Annabelle Lindqvist",
            stdout=io.StringIO(),
        )
    assert not User.objects.filter(email="annabelle.lindqvist@provider.test").exists()


def test_changing_ones_password_refuses_a_weak_one(world: World) -> None:
    browser = login(world.member_a)
    page = browser.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "short", "password2": "short"},
    )
    assert page.status_code == 200 and TOO_SHORT in page.content.decode()
    assert User.objects.get(pk=world.member_a.pk).check_password(PASSWORD)


def test_resetting_a_forgotten_password_refuses_a_weak_one(world: World) -> None:
    browser = HttpClient()
    browser.post("/accounts/password/reset/", {"email": world.member_a.email})
    [message] = mail.outbox
    body = str(message.body)
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", body)
    assert link, body
    form_url = browser.get(link.group(1), follow=True).redirect_chain[-1][0]
    page = browser.post(form_url, {"password1": "password1234", "password2": "password1234"})
    assert page.status_code == 200 and TOO_COMMON in page.content.decode()
    assert User.objects.get(pk=world.member_a.pk).check_password(PASSWORD)


@pytest.fixture
def back_office(world: World) -> HttpClient:
    User.objects.filter(pk=world.admin.pk).update(is_staff=True, is_superuser=True)
    world.admin.refresh_from_db()
    return login(world.admin)


def test_the_back_office_refuses_a_weak_password_for_a_new_person(
    world: World, back_office: HttpClient
) -> None:
    page = back_office.post(
        "/admin/accounts/user/add/",
        {
            "email": "weak@provider.test",
            "full_name": "Weak",
            "role": Role.AGENT.value,
            "time_zone": "UTC",
            "usable_password": "true",
            "password1": "short",
            "password2": "short",
        },
    )
    assert page.status_code == 200 and TOO_SHORT in page.content.decode()
    assert not User.objects.filter(email="weak@provider.test").exists()


def test_the_back_office_refuses_a_weak_password_change(
    world: World, back_office: HttpClient
) -> None:
    page = back_office.post(
        f"/admin/accounts/user/{world.member_a.pk}/password/",
        {"usable_password": "true", "password1": "password1234", "password2": "password1234"},
    )
    assert page.status_code == 200 and TOO_COMMON in page.content.decode()
    assert User.objects.get(pk=world.member_a.pk).check_password(PASSWORD)
