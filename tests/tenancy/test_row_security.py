"""Row-level security: the database refuses other clients' rows even when the app would not.

These tests switch the connection to a plain role (no superuser, no BYPASSRLS,
not the owner), as production does, for the length of the test's transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterator

import pytest
from allauth.socialaccount.models import SocialApp
from django.apps import apps
from django.core.checks import Error
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import ForeignKey
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import ClientSSO
from relaydesk.audit.chain import HASHED_FIELDS, verify_chain
from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Client
from relaydesk.insights.actions import do_propose_objective
from relaydesk.insights.daily import CountedWork, WorkScope, last_settled_day
from relaydesk.insights.measure_models import HandledSlice
from relaydesk.insights.measures import backfill_measures
from relaydesk.insights.report_actions import do_create_report, do_create_schedule
from relaydesk.routing.actions import do_escalate, do_set_escalation_ladder
from relaydesk.routing.models import Handoff
from relaydesk.sla.actions import do_replay_clocks, do_set_sla_policy
from relaydesk.tenancy import rowsecurity
from relaydesk.tenancy.checks import app_role_check
from relaydesk.tenancy.management.commands.grant_app_role import grant_statements
from relaydesk.tenancy.rowsecurity import PROVIDER, Scope
from relaydesk.work import queries
from relaydesk.work.actions import do_add_comment
from relaydesk.work.models import Comment, WorkItem
from relaydesk.work.signals import work_item_changed
from tests.conftest import APP_ROLE, World, login, submit
from tests.mailintake.support import mail_rows
from tests.notifications.support import notification_rows
from tests.quality.calibration_support import calibration_rows
from tests.quality.support import quality_rows
from tests.webhooks.support import webhook_rows

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-level security is PostgreSQL's"
)
PROBE_ROLE = f"relaydesk_probe_{os.getpid()}"
# Deliberately outside the wall, each for a reason the docs repeat.
UNWALLED = {
    # Sign-in looks a person up by address before anyone's scope is known.
    "accounts_user",
}


def walled_tables() -> dict[str, str]:
    """Every table that holds a client's rows, with the column naming the client."""
    tables = {Client._meta.db_table: "id"}
    for model in apps.get_models():
        field = next(
            (
                f
                for f in model._meta.concrete_fields
                if isinstance(f, ForeignKey) and f.related_model is Client
            ),
            None,
        )
        if field is not None and model._meta.db_table not in UNWALLED:
            tables[model._meta.db_table] = field.column
    return tables


def _scalar(sql: str, params: list[int] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return int(cursor.fetchone()[0])


@pytest.fixture
def rows_of_both(world: World) -> dict[str, WorkItem]:
    """Items of both clients with every kind of client-owned row behind them."""
    items = {}
    for name, actor, engagement in (
        ("a", world.client_admin_a, world.engagement_a),
        ("b", world.client_admin_b, world.engagement_b),
    ):
        item = submit(
            actor,
            engagement,
            title=f"Claim batch of client {name.upper()}",
            with_file=True,
            sensitive=(("bank_account", "IBAN", f"DE8937040044053201300{name}"),),
        )
        do_add_comment(actor, item, f"Note from client {name.upper()}")
        bearer = HttpClient(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(actor, name='t')[1]}")
        response = bearer.post(
            "/api/v1/work-items",
            {"engagement_id": engagement.pk, "service": "data-entry", "title": f"Via API {name}"},
            content_type="application/json",
            headers={"Idempotency-Key": f"key-{name}"},
        )
        assert response.status_code == 201, response.content
        items[name] = item
    for client, slug in ((world.client_a, "alpha"), (world.client_b, "beta")):
        app = SocialApp.objects.create(
            provider="openid_connect", provider_id=f"{slug}-idp", name=f"{slug} SSO"
        )
        ClientSSO.objects.create(client=client, app=app, domains=[f"{slug}.test"])
    # Routing's rows: each engagement's escalation ladder, and the steps its items reached.
    for engagement in (world.engagement_a, world.engagement_b):
        do_set_escalation_ladder(
            world.lead, engagement, widen_after_minutes=1, alert_after_minutes=2
        )
    do_escalate(at=timezone.now() + dt.timedelta(hours=1))
    # Service levels: each engagement's policy, and the clocks of its items.
    for engagement in (world.engagement_a, world.engagement_b):
        do_set_sla_policy(world.lead, engagement, turnaround_minutes=240)
    do_replay_clocks([item.pk for item in items.values()])
    # Quality: each engagement's sampling rule, a disputed review of each client's item, and a
    # calibration session on it.
    quality_rows(world, items.values())
    calibration_rows(world, items.values())
    # Webhooks: an endpoint of each engagement, with a delivery of an event.
    webhook_rows(world, items.values())
    # Mail intake: each client's intake address, a reply filed by e-mail, a held message.
    mail_rows(world, items.values())
    # Objectives: a target for each engagement.
    for engagement in (world.engagement_a, world.engagement_b):
        do_propose_objective(world.lead, engagement, metric="backlog_ceiling", target=50)
    # Notifications: each item's submitter told of it.
    notification_rows(world, items.values())
    # A handoff of each client's item between the two agents.
    for item in items.values():
        Handoff.objects.create(
            client_id=item.client_id,
            item=item,
            from_agent=world.agent.agent,
            to_agent=world.other_agent.agent,
            note="Checked the first half of the batch.",
            respond_by=timezone.now() + dt.timedelta(hours=1),
        )
    # The dashboards' roll-up: each item's row, and an hour each was in progress.
    backfill_measures()
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=2)
    HandledSlice.objects.bulk_create(
        HandledSlice(
            client_id=item.client_id,
            item=item,
            engagement_id=item.engagement_id,
            agent=world.agent,
            hour=hour,
            started_at=hour,
            ended_at=hour + dt.timedelta(minutes=20),
            seconds=20 * 60,
        )
        for item in items.values()
    )
    # The client dashboard's daily roll-up: an item of each client received on a settled day.
    settled = last_settled_day()
    for actor, engagement in (
        (world.client_admin_a, world.engagement_a),
        (world.client_admin_b, world.engagement_b),
    ):
        early = submit(actor, engagement, title="Received on a settled day")
        WorkItem.objects.filter(pk=early.pk).update(
            created_at=dt.datetime.combine(settled, dt.time(12), tzinfo=dt.UTC)
        )
    CountedWork(WorkScope(None), settled, settled)
    # Reports: a kept report of each engagement and a schedule with its recipient.
    today = timezone.now().astimezone(dt.UTC).date()
    for engagement, reader in (
        (world.engagement_a, world.member_a),
        (world.engagement_b, world.member_b),
    ):
        do_create_report(world.lead, engagement, start=today - dt.timedelta(days=6), end=today)
        do_create_schedule(world.lead, engagement, frequency="weekly", recipients=[reader.pk])
    return items


@pytest.fixture
def app_role(db: None) -> Iterator[str]:
    """The connection acts as a plain application role until the test ends.

    The PostgreSQL run of the suite already connects as one (tests/conftest.py);
    with ``RELAYDESK_TEST_AS_OWNER=1`` these tests make their own.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            yield APP_ROLE
            return
        cursor.execute(f"CREATE ROLE {PROBE_ROLE} NOLOGIN")
        for statement in grant_statements(PROBE_ROLE):
            cursor.execute(statement)
        # Role, grants and the switch all vanish with the test's transaction.
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")
    yield PROBE_ROLE


@on_postgres
@pytest.mark.django_db
def test_every_table_holding_client_rows_is_walled_and_forced() -> None:
    tables = walled_tables()
    assert {"work_workitem", "work_attachment", "audit_auditrecord"} <= set(tables)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "exists(SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname "
            "AND p.policyname = 'client_wall') "
            "FROM pg_class c WHERE c.relname = ANY(%s)",
            [list(tables)],
        )
        found = {name: (on, forced, policy) for name, on, forced, policy in cursor.fetchall()}
    assert found == dict.fromkeys(tables, (True, True, True))


@on_postgres
@pytest.mark.parametrize("table", sorted(walled_tables()))
def test_raw_reads_see_only_the_scopes_client(
    table: str, world: World, rows_of_both: dict[str, WorkItem], app_role: str
) -> None:
    column = walled_tables()[table]
    a, b = world.client_a.pk, world.client_b.pk
    with rowsecurity.within(PROVIDER):
        of_a = _scalar(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', [a])
        of_b = _scalar(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', [b])
        everything = _scalar(f'SELECT count(*) FROM "{table}"')
    assert of_a > 0 and of_b > 0, "both clients need rows for the test to mean anything"

    with rowsecurity.within(Scope("client", a)):
        assert _scalar(f'SELECT count(*) FROM "{table}"') == of_a
        assert _scalar(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', [b]) == 0
    with rowsecurity.within(rowsecurity.NO_SCOPE):
        assert _scalar(f'SELECT count(*) FROM "{table}"') == 0
    with rowsecurity.within(PROVIDER):
        assert _scalar(f'SELECT count(*) FROM "{table}"') == everything


@on_postgres
def test_writes_into_another_client_are_refused(
    world: World, rows_of_both: dict[str, WorkItem], app_role: str
) -> None:
    theirs = rows_of_both["b"]
    with rowsecurity.within(Scope("client", world.client_a.pk)):
        assert WorkItem.objects.filter(pk=theirs.pk).update(title="Overwritten") == 0
        assert WorkItem.objects.filter(pk=theirs.pk).delete()[0] == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Comment.objects.create(
                client_id=world.client_b.pk,
                item_id=theirs.pk,
                author=world.client_admin_a,
                body="Planted",
            )
        mine = rows_of_both["a"]
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            # Moving one's own row to another client is refused too.
            WorkItem.objects.filter(pk=mine.pk).update(client_id=world.client_b.pk)
    with rowsecurity.within(PROVIDER):
        assert WorkItem.objects.get(pk=theirs.pk).title == "Claim batch of client B"


@on_postgres
def test_the_database_holds_when_the_application_check_is_gone(
    world: World,
    rows_of_both: dict[str, WorkItem],
    app_role: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bug that drops the application's filter: every item for everyone.
    monkeypatch.setattr(queries, "visible_work_items", lambda actor: queries._items())
    theirs, mine = rows_of_both["b"], rows_of_both["a"]
    browser = login(world.client_admin_a)

    assert browser.get(f"/api/v1/work-items/{theirs.pk}").status_code == 404
    assert browser.get(f"/items/{theirs.pk}/").status_code == 404
    listed = browser.get("/api/v1/work-items?limit=100").json()
    titles = {row["title"] for row in listed["items"]}
    assert mine.title in titles and theirs.title not in titles
    page = browser.get("/portal/").content.decode()
    assert mine.title in page and theirs.title not in page


@on_postgres
def test_the_product_works_for_each_side_of_the_wall(
    world: World, rows_of_both: dict[str, WorkItem], app_role: str
) -> None:
    mine, theirs = rows_of_both["a"], rows_of_both["b"]
    client_admin = login(world.client_admin_a)
    page = client_admin.get(f"/items/{mine.pk}/")
    assert page.status_code == 200 and mine.title in page.content.decode()
    attachment_url = f"/api/v1/work-items/{mine.pk}/attachments"
    attachment = client_admin.get(attachment_url).json()[0]
    download = client_admin.get(f"{attachment_url}/{attachment['id']}/content")
    assert download.status_code == 200
    assert download.getvalue().startswith(b"%PDF")
    # The audit CSV is streamed after the view returns, still under the client's scope.
    export = client_admin.get("/portal/audit/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.getvalue().decode())))
    assert len(rows) > 3
    assert {row["client_id"] for row in rows} == {str(world.client_a.pk)}

    token = do_create_api_token(world.client_admin_a, name="script")[1]
    program = HttpClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    created = program.post(
        "/api/v1/work-items",
        {"engagement_id": world.engagement_a.pk, "service": "data-entry", "title": "Late batch"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert program.get(f"/api/v1/work-items/{theirs.pk}").status_code == 404

    lead_page = login(world.lead).get("/ops/").content.decode()
    assert mine.title in lead_page and theirs.title in lead_page

    # Records written from inside each client's scope still form one unbroken chain.
    with rowsecurity.within(PROVIDER):
        rows = AuditRecord.objects.order_by("seq").values("id", "hash", *HASHED_FIELDS)
        report = verify_chain(list(rows))
        clients = set(AuditRecord.objects.values_list("client_id", flat=True))
    assert report.broken is None
    assert {world.client_a.pk, world.client_b.pk} <= clients


@on_postgres
def test_password_sign_in_starts_in_no_scope_and_ends_in_the_persons(
    world: World, rows_of_both: dict[str, WorkItem], app_role: str
) -> None:
    from tests.conftest import PASSWORD

    browser = HttpClient()
    response = browser.post(
        "/accounts/login/", {"login": world.member_a.email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content
    page = browser.get("/portal/").content.decode()
    assert rows_of_both["a"].title in page and rows_of_both["b"].title not in page
    with rowsecurity.within(PROVIDER):
        signed_in = AuditRecord.objects.filter(action="auth.login", client=world.client_a)
        assert signed_in.exists()


@on_postgres
def test_follow_ups_after_commit_keep_the_actors_scope(
    world: World,
    rows_of_both: dict[str, WorkItem],
    app_role: str,
    django_capture_on_commit_callbacks,
) -> None:
    seen: list[str] = []

    def receiver(sender: object, item_id: int, **kwargs: object) -> None:
        seen.append(WorkItem.objects.get(pk=item_id).title)

    work_item_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = login(world.client_admin_a).post(
                f"/api/v1/work-items/{rows_of_both['a'].pk}/transitions",
                {"action": "cancel", "note": "Sent by mistake"},
                content_type="application/json",
            )
    finally:
        work_item_changed.disconnect(receiver)
    assert response.status_code == 200, response.content
    assert seen == [rows_of_both["a"].title]


@on_postgres
def test_production_refuses_a_role_that_can_step_over_the_wall(as_owner: None) -> None:
    # The test database's owner is a superuser.
    with override_settings(PRODUCTION=True):
        errors = app_role_check()
    assert [e.id for e in errors] == ["relaydesk.E001"]
    assert isinstance(errors[0], Error) and "superuser" in errors[0].msg
    assert app_role_check() == []  # development settings: no such demand


@on_postgres
def test_production_accepts_a_plain_application_role(app_role: str) -> None:
    with override_settings(PRODUCTION=True):
        assert app_role_check() == []


@on_postgres
def test_grant_app_role_explains_what_it_cannot_do(as_owner: None) -> None:
    with pytest.raises(CommandError, match="not a plain role name"):
        call_command("grant_app_role", "app; DROP TABLE x")
    with pytest.raises(CommandError, match="There is no role"):
        call_command("grant_app_role", "nobody_here_at_all")
    with pytest.raises(CommandError, match="superuser"):
        call_command("grant_app_role", "postgres")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite behaviour")
@pytest.mark.django_db
def test_on_sqlite_the_application_is_the_wall() -> None:
    assert not rowsecurity.enabled()
    assert rowsecurity.current_scope() == rowsecurity.NO_SCOPE
    with pytest.raises(CommandError, match="Only PostgreSQL"):
        call_command("grant_app_role", "relaydesk_app")
