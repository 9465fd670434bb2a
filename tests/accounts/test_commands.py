"""The relaydesk command line: creating the first admin and API tokens."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.cli import main
from tests.conftest import World


@pytest.mark.django_db
def test_createadmin_makes_an_audited_provider_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYDESK_ADMIN_PASSWORD", "a-long-admin-password")
    call_command("createadmin", email="Ann@Provider.test", name="Ann Admin", stdout=io.StringIO())
    admin = User.objects.get(email="ann@provider.test")
    assert admin.role == "provider_admin" and admin.is_staff and admin.client is None
    assert admin.check_password("a-long-admin-password")
    assert AuditRecord.objects.filter(action="user.create", object_id=str(admin.pk)).exists()


@pytest.mark.django_db
def test_createadmin_refuses_weak_passwords_and_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYDESK_ADMIN_PASSWORD", "short")
    with pytest.raises(CommandError, match="too short"):
        call_command("createadmin", email="ann@provider.test", name="Ann")
    monkeypatch.setenv("RELAYDESK_ADMIN_PASSWORD", "a-long-admin-password")
    call_command("createadmin", email="ann@provider.test", name="Ann", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already an account"):
        call_command("createadmin", email="ann@provider.test", name="Ann")


def test_token_create_prints_a_working_token_once(world: World) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", "create", user=world.member_a.email, name="sync", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("rdk_") and "shown once" in err.getvalue()
    me = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/me").json()
    assert me["email"] == world.member_a.email
    with pytest.raises(CommandError, match="No active user"):
        call_command("token", "create", user="nobody@x.test", name="sync")


def test_cli_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    text = capsys.readouterr().out
    for command in ("serve", "worker", "migrate", "demo", "createadmin", "token", "import-work"):
        assert command in text
