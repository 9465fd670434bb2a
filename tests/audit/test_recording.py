"""Given sign-ins, refusals and back-office changes, each leaves exactly one record."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import authenticate
from django.test import Client as HttpClient

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.core.lifecycle import Action
from relaydesk.workforce.models import Site
from tests.conftest import PASSWORD, World, login, submit

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = "Tr0ub4dor&3-not-this-one"


def new_records(since: int, action: str | None = None) -> list[AuditRecord]:
    records = AuditRecord.objects.filter(seq__gt=since).order_by("seq")
    return list(records.filter(action=action) if action else records)


def last_seq() -> int:
    return AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def everything_recorded() -> str:
    return json.dumps(list(AuditRecord.objects.values()), default=str)


def sign_in(email: str, password: str) -> HttpClient:
    browser = HttpClient(REMOTE_ADDR="203.0.113.7")
    browser.post("/accounts/login/", {"login": email, "password": password})
    return browser


def test_a_sign_in_is_recorded_once_with_where_it_came_from(world: World) -> None:
    before = last_seq()
    sign_in(world.member_a.email, PASSWORD)
    [login] = new_records(before, "auth.login")
    assert login.actor == world.member_a
    assert login.client_id == world.client_a.pk
    assert login.source_ip == "203.0.113.7"
    assert not new_records(before, "auth.login_failed")
    assert PASSWORD not in everything_recorded()


def test_a_failed_sign_in_keeps_the_address_tried_and_never_the_password(world: World) -> None:
    before = last_seq()
    sign_in("Member@Alpha.test", WRONG_PASSWORD)
    assert not new_records(before, "auth.login")
    [failed] = new_records(before, "auth.login_failed")
    assert failed.actor is None and failed.actor_label == "anonymous"
    assert failed.detail == {"email": "member@alpha.test"}
    assert failed.client_id == world.client_a.pk  # the account's client sees the attempt
    assert failed.source_ip == "203.0.113.7"
    assert WRONG_PASSWORD not in everything_recorded()


def test_a_password_typed_into_the_address_field_is_not_kept(world: World) -> None:
    # The sign-in form turns it away before authenticating; any other caller of
    # authenticate() gets the same treatment from the receiver.
    before = last_seq()
    sign_in(WRONG_PASSWORD, WRONG_PASSWORD)
    assert authenticate(email=WRONG_PASSWORD, password=WRONG_PASSWORD) is None
    [failed] = new_records(before, "auth.login_failed")
    assert failed.detail == {"email": "(not an e-mail address)"}
    assert failed.client_id is None
    assert WRONG_PASSWORD not in everything_recorded()


def test_a_sign_out_is_recorded(world: World) -> None:
    browser = login(world.client_admin_a)
    before = last_seq()
    browser.post("/accounts/logout/")
    [logout] = new_records(before)
    assert (logout.action, logout.actor, logout.client_id) == (
        "auth.logout",
        world.client_admin_a,
        world.client_admin_a.client_id,
    )


def test_a_page_refused_for_the_role_is_recorded(world: World) -> None:
    browser = login(world.member_a)
    before = last_seq()
    assert browser.get("/ops/").status_code == 403
    [denied] = new_records(before)
    assert denied.action == "permission.denied"
    assert denied.actor == world.member_a and denied.client_id == world.client_a.pk
    assert denied.detail["path"] == "/ops/" and denied.detail["method"] == "GET"
    assert "Operations lead" in denied.detail["reason"] or "for:" in denied.detail["reason"]


def test_an_item_action_refused_with_403_is_recorded_against_the_item(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    browser = login(world.member_a)
    before = last_seq()
    response = browser.post(f"/items/{item.pk}/actions/{Action.START.value}/")
    assert response.status_code == 403
    [denied] = new_records(before)
    assert (denied.action, denied.object_type, denied.object_id) == (
        "permission.denied",
        "WorkItem",
        str(item.pk),
    )
    assert denied.client_id == world.client_a.pk


def test_an_api_call_refused_with_403_is_recorded(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    browser = login(world.member_a)
    before = last_seq()
    response = browser.post(
        f"/api/v1/work-items/{item.pk}/transitions",
        {"action": "start"},
        content_type="application/json",
    )
    assert response.status_code == 403
    [denied] = new_records(before)
    assert denied.action == "permission.denied" and denied.actor == world.member_a


def test_an_api_call_refused_with_403_is_recorded_for_a_token(world: World) -> None:
    from relaydesk.accounts.actions import do_create_api_token

    item = submit(world.member_a, world.engagement_a)
    _, secret = do_create_api_token(world.member_a, name="audit test")
    before = last_seq()
    response = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        f"/api/v1/work-items/{item.pk}/transitions",
        {"action": "start"},
        content_type="application/json",
    )
    assert response.status_code == 403
    [denied] = new_records(before)
    assert denied.action == "permission.denied"
    assert denied.actor == world.member_a and denied.client_id == world.client_a.pk
    assert denied.detail["path"] == f"/api/v1/work-items/{item.pk}/transitions"
    assert secret not in everything_recorded()


def back_office_user() -> User:
    return User.objects.create_superuser("root@provider.test", PASSWORD, full_name="Root Admin")


def test_a_back_office_change_is_recorded_with_its_change_message(world: World) -> None:
    site = Site.objects.create(code="pune", name="Pune", country="IN", time_zone="Asia/Kolkata")
    root = back_office_user()
    browser = login(root)
    before = last_seq()
    response = browser.post(
        f"/admin/workforce/site/{site.pk}/change/",
        {
            "code": "pune",
            "name": "Pune West",
            "country": "IN",
            "time_zone": "Asia/Kolkata",
            "shifts-TOTAL_FORMS": "0",
            "shifts-INITIAL_FORMS": "0",
            "shifts-MIN_NUM_FORMS": "0",
            "shifts-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    [change] = new_records(before, "admin.change")
    assert change.actor == root
    assert change.source_ip == "127.0.0.1"  # the test client's address
    assert (change.object_type, change.object_id) == ("Site", str(site.pk))
    assert change.detail["object"] == "Pune West"
    assert "Name" in change.detail["change"]
    assert LogEntry.objects.filter(object_id=str(site.pk)).count() == 1


def test_back_office_bulk_deletion_records_each_object(world: World) -> None:
    sites = [
        Site.objects.create(code=f"s{n}", name=f"Site {n}", country="PH", time_zone="Asia/Manila")
        for n in range(3)
    ]
    browser = login(back_office_user())
    before = last_seq()
    response = browser.post(
        "/admin/workforce/site/",
        {
            "action": "delete_selected",
            "_selected_action": [str(s.pk) for s in sites],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Site.objects.filter(pk__in=[s.pk for s in sites]).exists()
    deleted = new_records(before, "admin.delete")
    assert sorted(r.object_id for r in deleted) == sorted(str(s.pk) for s in sites)
    assert {r.detail["object"] for r in deleted} == {"Site 0", "Site 1", "Site 2"}
    assert {r.source_ip for r in deleted} == {"127.0.0.1"}
