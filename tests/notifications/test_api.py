"""The notifications API: one's own list, the unread count, reading, and the settings, with
the same choices and checks as the settings page; nobody else's notification is reachable."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.config.api import api
from relaydesk.core.permissions import Permission
from relaydesk.notifications.actions import Note, do_notify, do_set_preferences
from relaydesk.notifications.kinds import Email, Kind, default_for, kinds_for
from relaydesk.notifications.models import Notification
from relaydesk.notifications.queries import preferences_of
from relaydesk.work.actions import do_assign
from relaydesk.work.models import WorkItem
from tests.conftest import World, login, submit
from tests.core.test_permissions import EXPECTED

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _api(user: User) -> HttpClient:
    _, secret = do_create_api_token(user, name="notifications")
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _tell(
    user: User, item: WorkItem, title: str, *, kind: Kind = Kind.ITEM_DELIVERED, minutes: int = 0
) -> Notification:
    at = timezone.now() - dt.timedelta(hours=1) + dt.timedelta(minutes=minutes)
    [notification] = do_notify(kind, item, [Note(user, title, f"{title}: body", "/x/")], at=at)
    return notification


def _patch(http: HttpClient, preferences: list[dict[str, Any]]) -> Any:
    return http.patch(
        f"{API}/notification-preferences",
        json.dumps({"preferences": preferences}),
        content_type="application/json",
    )


def test_my_list_is_newest_first_paged_and_filtered_by_unread(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    first = _tell(world.member_a, item, "First", minutes=1)
    second = _tell(world.member_a, item, "Second", minutes=2)
    third = _tell(world.member_a, item, "Third", minutes=3)
    Notification.objects.filter(pk=second.pk).update(read_at=timezone.now())
    # Someone else's, and one of mine e-mailed only: neither is in my list.
    _tell(world.client_admin_a, item, "Not yours")
    do_set_preferences(world.member_a, {"comment_added": (False, "now")})
    _tell(world.member_a, item, "E-mail only", kind=Kind.COMMENT_ADDED, minutes=4)
    http = _api(world.member_a)

    page = http.get(f"{API}/notifications").json()
    assert [n["title"] for n in page["items"]] == ["Third", "Second", "First"]
    assert (page["count"], page["unread"]) == (3, 2)
    shown = page["items"][0]
    assert shown == {
        "id": third.pk,
        "kind": "item_delivered",
        "kind_label": "Delivered",
        "item_id": item.pk,
        "item_reference": item.reference,
        "openable": True,
        "title": "Third",
        "body": "Third: body",
        "url": "/x/",
        "created_at": shown["created_at"],
        "read_at": None,
        "email": "now",
        "emailed_at": None,
    }
    # In UTC, to the millisecond.
    created = dt.datetime.fromisoformat(shown["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert abs(created - third.created_at) < dt.timedelta(milliseconds=1)

    unread = http.get(f"{API}/notifications?unread=true").json()
    assert [n["id"] for n in unread["items"]] == [third.pk, first.pk]
    assert (unread["count"], unread["unread"]) == (2, 2)
    paged = http.get(f"{API}/notifications?limit=1&offset=1").json()
    assert [n["id"] for n in paged["items"]] == [second.pk] and paged["count"] == 3

    refused = http.get(f"{API}/notifications?limit=0")
    assert refused.status_code == 422
    assert "limit" in refused.json()["detail"]


def test_a_notification_about_an_item_i_can_no_longer_open_keeps_only_its_number(
    world: World,
) -> None:
    item = submit(world.member_a, world.engagement_a, title="Alpha claim batch 12")
    do_assign(world.lead, item, world.agent.agent)
    _tell(world.agent, item, f"Rework: {item.title}", kind=Kind.REWORK_REQUESTED)
    http = _api(world.agent)
    assert http.get(f"{API}/notifications").json()["items"][0]["openable"] is True

    do_assign(world.lead, item, world.other_agent.agent)
    answer = http.get(f"{API}/notifications")
    [shown] = answer.json()["items"]
    assert shown["openable"] is False
    assert (shown["title"], shown["body"], shown["url"]) == (None, None, None)
    assert shown["item_reference"] == item.reference
    assert "Alpha claim batch 12" not in answer.content.decode()


def test_the_unread_count_is_mine_alone(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    for n in range(3):
        _tell(world.member_a, item, f"News {n}")
    _tell(world.client_admin_a, item, "Theirs")
    assert _api(world.member_a).get(f"{API}/notifications/unread-count").json() == {"unread": 3}
    assert _api(world.member_b).get(f"{API}/notifications/unread-count").json() == {"unread": 0}


def test_marking_one_read_is_mine_alone_and_another_persons_is_not_found(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    mine = _tell(world.member_a, item, "Mine")
    theirs = _tell(world.client_admin_a, item, "Theirs")
    http = _api(world.member_a)

    answer = http.post(f"{API}/notifications/{mine.pk}/read")
    assert answer.status_code == 200
    read_at = answer.json()["read_at"]
    assert read_at is not None and answer.json()["id"] == mine.pk
    # Again: it stays read as it was.
    assert http.post(f"{API}/notifications/{mine.pk}/read").json()["read_at"] == read_at

    other = http.post(f"{API}/notifications/{theirs.pk}/read")
    missing = http.post(f"{API}/notifications/999999/read")
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == {"detail": "No such notification."}
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_an_emailed_only_notification_can_be_marked_read(world: World) -> None:
    do_set_preferences(world.member_a, {"item_delivered": (False, "now")})
    item = submit(world.member_a, world.engagement_a)
    emailed = _tell(world.member_a, item, "By e-mail only")
    answer = _api(world.member_a).post(f"{API}/notifications/{emailed.pk}/read")
    assert answer.status_code == 200 and answer.json()["read_at"] is not None


def test_marking_all_read_marks_mine_only(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    for n in range(2):
        _tell(world.member_a, item, f"News {n}")
    theirs = _tell(world.client_admin_a, item, "Theirs")
    http = _api(world.member_a)
    assert http.post(f"{API}/notifications/read-all").json() == {"marked": 2}
    assert http.post(f"{API}/notifications/read-all").json() == {"marked": 0}
    assert http.get(f"{API}/notifications/unread-count").json() == {"unread": 0}
    assert Notification.objects.get(pk=theirs.pk).read_at is None


@pytest.mark.parametrize("who", ["provider_admin", "ops_lead", "agent", "client_member_a"])
def test_my_settings_list_every_kind_offered_to_my_role_with_its_default(
    world: World, who: str
) -> None:
    user = world.users()[who]
    answer = _api(user).get(f"{API}/notification-preferences").json()
    assert answer["digest_hour"] == 8
    offered = kinds_for(user.role_enum)
    assert [p["kind"] for p in answer["preferences"]] == [k.value for k in offered]
    for shown, kind in zip(answer["preferences"], offered, strict=True):
        in_app, email = default_for(kind, user.role_enum)
        assert (shown["in_app"], shown["email"]) == (in_app, email.value)
        assert shown["label"] == kind.label and shown["help"]


def test_changing_my_settings_keeps_the_rest_and_is_audited(world: World) -> None:
    http = _api(world.lead)
    answer = _patch(http, [{"kind": "sla_warning", "in_app": False, "email": "now"}])
    assert answer.status_code == 200, answer.content
    shown = {p["kind"]: (p["in_app"], p["email"]) for p in answer.json()["preferences"]}
    assert shown == {"sla_warning": (False, "now"), "sla_lead_alert": (True, "now")}
    assert preferences_of(world.lead) == {
        Kind.SLA_WARNING: (False, Email.NOW),
        Kind.SLA_LEAD_ALERT: (True, Email.NOW),
    }
    [audit] = AuditRecord.objects.filter(action="notification.preferences_set")
    assert audit.actor_id == world.lead.pk
    assert audit.detail == {"sla_warning": {"in_app": False, "email": "now"}}
    # The settings page shows what the API set.
    page = login(world.lead).get("/account/notifications/").content.decode()
    assert 'value="now" selected' in page or 'value="now" checked' in page

    # An empty change changes nothing and records nothing.
    assert _patch(http, []).status_code == 200
    assert AuditRecord.objects.filter(action="notification.preferences_set").count() == 1


@pytest.mark.parametrize(
    ("preferences", "says"),
    [
        # Offered to clients, not to agents: the same check as the settings page.
        ([{"kind": "item_delivered", "in_app": True, "email": "now"}], "not a notification"),
        ([{"kind": "rework_requested", "in_app": True, "email": "weekly"}], "email"),
        ([{"kind": "no_such_kind", "in_app": True, "email": "now"}], "kind"),
        ([{"kind": "rework_requested", "in_app": True}], "email"),
        (
            [
                {"kind": "rework_requested", "in_app": True, "email": "off"},
                {"kind": "rework_requested", "in_app": False, "email": "now"},
            ],
            "given twice",
        ),
    ],
)
def test_a_setting_that_is_not_offered_or_not_a_choice_is_refused_and_nothing_changes(
    world: World, preferences: list[dict[str, Any]], says: str
) -> None:
    before = preferences_of(world.agent)
    answer = _patch(_api(world.agent), preferences)
    assert answer.status_code == 422, answer.content
    assert says in answer.json()["detail"]
    assert preferences_of(world.agent) == before
    assert not AuditRecord.objects.filter(action="notification.preferences_set").exists()


def test_the_email_choices_are_those_of_the_settings_page() -> None:
    from relaydesk.notifications.forms import EMAIL_FORM_CHOICES

    schemas = api.get_openapi_schema()["components"]["schemas"]
    choices = schemas["Email"]["enum"]
    assert choices == [value for value, _ in EMAIL_FORM_CHOICES] == ["now", "digest", "off"]
    assert schemas["Kind"]["enum"] == [kind.value for kind in Kind]


# Every operation, with what a role that may receive notifications gets.
OPERATIONS = [
    ("get", "/notifications", 200),
    ("get", "/notifications/unread-count", 200),
    ("post", "/notifications/{id}/read", 200),
    ("post", "/notifications/read-all", 200),
    ("get", "/notification-preferences", 200),
    ("patch", "/notification-preferences", 200),
]


def test_the_list_of_operations_here_is_the_api_s() -> None:
    paths = api.get_openapi_schema()["paths"]
    documented = {
        (method, path.removeprefix(API).replace("{notification_id}", "{id}"))
        for path, operations in paths.items()
        if "notification" in path
        for method in operations
    }
    assert documented == {(method, path) for method, path, _ in OPERATIONS}


EVERYONE = [
    "provider_admin",
    "ops_lead",
    "agent",
    "qa_reviewer",
    "supervising_attorney",
    "client_admin_a",
    "client_member_a",
]


@pytest.mark.parametrize("who", EVERYONE)
def test_each_role_reaches_every_operation_as_the_permission_matrix_says(
    world: World, who: str
) -> None:
    user = world.users()[who]
    item = submit(world.member_a, world.engagement_a)
    own = Notification.objects.create(
        recipient=user, client=world.client_a, item=item, kind=Kind.SLA_WARNING, title="x"
    )
    http = _api(user)
    # The matrix as agreed (the spec), not as the code has it.
    allowed = user.role_enum in EXPECTED[Permission.RECEIVE_NOTIFICATIONS]
    for method, path, status in OPERATIONS:
        url = API + path.replace("{id}", str(own.pk))
        kwargs: dict[str, Any] = {}
        if method == "patch":
            kwargs = {"data": {"preferences": []}, "content_type": "application/json"}
        answer = getattr(http, method)(url, **kwargs)
        expected = status if allowed else 403
        assert answer.status_code == expected, (who, method, path, answer.content)


def test_without_a_token_or_session_every_operation_is_401(world: World) -> None:
    anonymous = HttpClient()
    for method, path, _ in OPERATIONS:
        answer = getattr(anonymous, method)(API + path.replace("{id}", "1"))
        assert answer.status_code == 401, (method, path)
