"""Fixtures for the CSV import tests: a law firm, a retailer, and the people who use them.

Imported by ``test_importing.py`` and ``test_import_command.py`` (not a conftest,
so it does not leak into other tests).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.roles import Role

PASSWORD = "import-tests-long-password"
FIRM = "Hartwell & Cole Injury Law"


@dataclass
class ImportWorld:
    """Two clients, one engagement each, and a person in each role that matters here."""

    firm: Client
    retailer: Client
    claims: Engagement
    support: Engagement
    firm_admin: User
    firm_member: User
    retailer_admin: User
    lead: User
    agent: User


def _engagement(client: Client, name: str, time_zone: str, services: list[str]) -> Engagement:
    engagement = Engagement.objects.create(
        client=client,
        name=name,
        time_zone=time_zone,
        starts_on=timezone.localdate() - dt.timedelta(days=30),
    )
    engagement.services.set(Service.objects.filter(slug__in=services))
    return engagement


def _person(email: str, role: Role, client: Client | None = None) -> User:
    return do_create_user(
        None,
        email=email,
        full_name=email.split("@")[0].title(),
        role=role,
        password=PASSWORD,
        client=client,
    )


@pytest.fixture
def iw(db: None, settings, tmp_path) -> ImportWorld:
    """The cast of the import tests."""
    settings.MEDIA_ROOT = tmp_path / "media"
    # Fast hashing: these tests create people, they don't test passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    firm = Client.objects.create(slug="hartwell-cole", name=FIRM)
    retailer = Client.objects.create(slug="bravo-retail", name="Bravo Retail")
    return ImportWorld(
        firm=firm,
        retailer=retailer,
        claims=_engagement(
            firm, "Claims intake", "America/New_York", ["data-entry", "document-processing"]
        ),
        support=_engagement(retailer, "Support desk", "America/Chicago", ["customer-support"]),
        firm_admin=_person("admin@hartwell.test", Role.CLIENT_ADMIN, firm),
        firm_member=_person("member@hartwell.test", Role.CLIENT_MEMBER, firm),
        retailer_admin=_person("admin@bravo.test", Role.CLIENT_ADMIN, retailer),
        lead=_person("lead@provider.test", Role.OPS_LEAD),
        agent=_person("agent@provider.test", Role.AGENT),
    )


def signed_in(user: User) -> HttpClient:
    """A test browser signed in as ``user`` (past the authenticator step too)."""
    from tests.accounts.support import mark_session_mfa_verified

    browser = HttpClient()
    browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    mark_session_mfa_verified(browser, user)
    return browser


def csv_text(*lines: str) -> str:
    """A CSV file from its lines (CRLF endings, as spreadsheets write them)."""
    return "\r\n".join(lines) + "\r\n"


def future(days: int = 30) -> str:
    """A date ``days`` from now, as ISO 8601."""
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()
