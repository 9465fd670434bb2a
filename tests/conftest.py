"""Shared fixtures: a small provider with two clients and a person in every role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service, Skill
from relaydesk.clients.models import Client, Engagement
from relaydesk.core.roles import Role
from relaydesk.work.actions import NewWorkItem, do_submit_work_item
from relaydesk.work.models import WorkItem
from relaydesk.workforce.models import (
    Agent,
    AgentCertification,
    AgentClearance,
    AgentSkill,
    Certification,
    Clearance,
    Site,
)

PASSWORD = "correct-horse-battery-staple"
# The authenticator key of the world's provider staff: two-factor sign-in is required of
# them, and their API tokens work only once they have an app (``login`` marks a session as
# having used it; ``tests.accounts.support.totp_code`` gives a code).
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def with_authenticator(user: User) -> User:
    """``user`` with an authenticator app set up (key ``STAFF_TOTP_SECRET``), unless they have one.

    Provider staff need it before their API tokens work.
    """
    from relaydesk.accounts.mfa import has_totp

    if not has_totp(user):
        TOTP.activate(user, STAFF_TOTP_SECRET)
    return user


@dataclass
class World:
    """Two clients (A and B) and everyone who works for or with them."""

    client_a: Client
    client_b: Client
    engagement_a: Engagement
    engagement_pip: Engagement
    engagement_b: Engagement
    admin: User
    lead: User
    agent: User
    other_agent: User
    qa: User
    attorney: User
    analyst: User
    client_admin_a: User
    member_a: User
    client_admin_b: User
    member_b: User

    def users(self) -> dict[str, User]:
        """Everyone, by a short name used in test ids."""
        return {
            "provider_admin": self.admin,
            "ops_lead": self.lead,
            "agent": self.agent,
            "other_agent": self.other_agent,
            "qa_reviewer": self.qa,
            "supervising_attorney": self.attorney,
            "senior_analyst": self.analyst,
            "client_admin_a": self.client_admin_a,
            "client_member_a": self.member_a,
            "client_admin_b": self.client_admin_b,
            "client_member_b": self.member_b,
        }


def make_agent(
    user: User,
    site: Site,
    *,
    code: str,
    skills: dict[str, int],
    languages: list[str],
    capacity: int = 3,
) -> Agent:
    """An agent profile with the given skills, PHI and privilege clearance."""
    agent = Agent.objects.create(
        user=user, site=site, employee_code=code, languages=languages, capacity=capacity
    )
    for slug, level in skills.items():
        AgentSkill.objects.create(
            agent=agent, skill=Skill.objects.get(slug=slug), proficiency=level
        )
    for code_ in ("phi", "privileged"):
        AgentClearance.objects.create(
            agent=agent, clearance=Clearance.objects.get(code=code_), granted_on=dt.date(2026, 1, 5)
        )
    return agent


@pytest.fixture
def world(db: None) -> World:
    """The shared cast; every role, two clients, and agents in Manila."""
    manila = Site.objects.create(code="mnl", name="Manila", country="PH", time_zone="Asia/Manila")
    client_a = Client.objects.create(slug="alpha-law", name="Alpha Law")
    client_b = Client.objects.create(slug="bravo-retail", name="Bravo Retail")
    engagement_a = Engagement.objects.create(
        client=client_a,
        name="Claims support",
        time_zone="America/New_York",
        allowed_countries=["PH", "US"],
        starts_on=dt.date(2026, 1, 1),
    )
    engagement_a.services.set(
        Service.objects.filter(slug__in=["document-processing", "legal-drafting", "data-entry"])
    )
    # Florida PIP work: whoever works an item needs PIP certification for its state.
    engagement_pip = Engagement.objects.create(
        client=client_a,
        name="PIP claims",
        time_zone="America/New_York",
        allowed_countries=["PH", "US"],
        starts_on=dt.date(2026, 1, 1),
        required_certification=Certification.objects.get(code="pip-no-fault"),
    )
    engagement_pip.services.set(Service.objects.filter(slug="document-processing"))
    engagement_b = Engagement.objects.create(
        client=client_b,
        name="Support desk",
        time_zone="America/Chicago",
        allowed_countries=["PH"],
        starts_on=dt.date(2026, 1, 1),
    )
    engagement_b.services.set(Service.objects.filter(slug__in=["customer-support", "data-entry"]))

    def person(email: str, role: Role, client: Client | None = None) -> User:
        user = do_create_user(
            None,
            email=email,
            full_name=email.split("@")[0].title(),
            role=role,
            password=PASSWORD,
            client=client,
            time_zone="Asia/Manila",
        )
        return user if role.is_client else with_authenticator(user)

    agent = person("agent@provider.test", Role.AGENT)
    other_agent = person("other@provider.test", Role.AGENT)
    skills = {
        "legal-document-review": 4,
        "legal-drafting": 4,
        "data-entry": 4,
        "customer-communication": 4,
    }
    agent_profile = make_agent(agent, manila, code="M-001", skills=skills, languages=["en"])
    make_agent(other_agent, manila, code="M-002", skills=skills, languages=["en"])
    AgentCertification.objects.create(
        agent=agent_profile,
        certification=Certification.objects.get(code="pip-no-fault"),
        jurisdictions=["US-FL"],
        valid_until=dt.date(2030, 1, 1),
    )
    return World(
        client_a=client_a,
        client_b=client_b,
        engagement_a=engagement_a,
        engagement_pip=engagement_pip,
        engagement_b=engagement_b,
        admin=person("admin@provider.test", Role.PROVIDER_ADMIN),
        lead=person("lead@provider.test", Role.OPS_LEAD),
        agent=agent,
        other_agent=other_agent,
        qa=person("qa@provider.test", Role.QA_REVIEWER),
        attorney=person("attorney@provider.test", Role.SUPERVISING_ATTORNEY),
        analyst=person("analyst@provider.test", Role.SENIOR_ANALYST),
        client_admin_a=person("admin@alpha.test", Role.CLIENT_ADMIN, client_a),
        member_a=person("member@alpha.test", Role.CLIENT_MEMBER, client_a),
        client_admin_b=person("admin@bravo.test", Role.CLIENT_ADMIN, client_b),
        member_b=person("member@bravo.test", Role.CLIENT_MEMBER, client_b),
    )


def kpo_engagement(world: World) -> Engagement:
    """A market-research engagement for client A, which the world's agent is skilled for.

    Market research is KPO work: every finished item is reviewed by a senior analyst.
    """
    engagement = Engagement.objects.create(
        client=world.client_a,
        name="Market studies",
        time_zone="America/New_York",
        allowed_countries=["PH", "US"],
        starts_on=dt.date(2026, 1, 1),
    )
    engagement.services.set(Service.objects.filter(slug="market-research"))
    AgentSkill.objects.create(
        agent=world.agent.agent, skill=Skill.objects.get(slug="market-research"), proficiency=4
    )
    return engagement


def submit(
    actor: User,
    engagement: Engagement,
    service: str = "data-entry",
    *,
    title: str = "Key 40 claim forms",
    with_file: bool = False,
    **fields: object,
) -> WorkItem:
    """Submit one item through the real intake action."""
    files: list[UploadedFile] = [
        SimpleUploadedFile("claim.pdf", b"%PDF-1.4 claim", "application/pdf")
    ]
    item, _ = do_submit_work_item(
        actor,
        NewWorkItem(engagement_id=engagement.pk, service_slug=service, title=title, **fields),  # type: ignore[arg-type]
        files=files if with_file else None,
    )
    return item


def login(user: User) -> HttpClient:
    """A test client signed in as ``user``, as if they had also entered an authenticator code."""
    from tests.accounts.support import mark_session_mfa_verified

    client = HttpClient()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    mark_session_mfa_verified(client, user)
    return client


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    """Uploaded files, and the master key that encrypts them, go to a throwaway folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RELAYDESK_MASTER_KEY_FILE = str(tmp_path / "master.key")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Every test starts with empty API rate counters (the cache outlives a test)."""
    from django.core.cache import cache

    cache.clear()


def now() -> dt.datetime:
    """The current time (aware, UTC)."""
    return timezone.now()


# On PostgreSQL the suite runs as a plain application role, as production does, so
# row-level security binds every test; fixtures act for the provider by default and
# each request narrows to its person's scope. RELAYDESK_TEST_AS_OWNER=1 turns it off.
APP_ROLE = "relaydesk_test_app"


def _act_as_app_role(sender: object, connection: object, **kwargs: object) -> None:
    from relaydesk.tenancy.rowsecurity import PROVIDER

    if getattr(connection, "vendor", "") != "postgresql":
        return
    with connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SET ROLE {APP_ROLE}")
        cursor.execute("SELECT set_config('relaydesk.scope', %s, false)", [PROVIDER.kind])


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    """After the test database is built, connect to it as the application's role."""
    import os

    from django.db import connection
    from django.db.backends.signals import connection_created

    from relaydesk.tenancy.management.commands.grant_app_role import grant_statements

    if connection.vendor != "postgresql" or os.environ.get("RELAYDESK_TEST_AS_OWNER"):
        yield
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
        for statement in grant_statements(APP_ROLE):
            cursor.execute(statement)
    connection_created.connect(_act_as_app_role, dispatch_uid="tests-app-role")
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _act_as_app_role(None, connection)
    yield
    connection_created.disconnect(dispatch_uid="tests-app-role")
    with django_db_blocker.unblock(), connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("RESET ROLE")  # the owner drops the test database


@pytest.fixture
def as_owner(db: None) -> None:
    """For the rest of the test, the connection is the database owner again (superuser)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE NONE")
