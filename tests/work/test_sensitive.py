"""Confidential details: masked everywhere, revealed only on request, and every reveal audited."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.audit.models import AuditRecord
from relaydesk.errors import Invalid, NotAllowed, NotFound
from relaydesk.work.actions import do_assign, do_reveal_sensitive
from tests.conftest import World, login, submit

IBAN = "DE89370400440532013000"
SSN = "123-45-6789"


def _item(world: World):
    return submit(
        world.member_a,
        world.engagement_a,
        title="Payroll correction",
        sensitive=(("bank_account", "IBAN", IBAN), ("national_id", "SSN", SSN)),
    )


def test_values_are_masked_on_pages_and_in_the_api_until_revealed(world: World) -> None:
    item = _item(world)
    for user in (world.member_a, world.lead):
        page = login(user).get(f"/items/{item.pk}/").content.decode()
        assert IBAN not in page and SSN not in page
        assert "•••• 3000" in page and "•••• 6789" in page
        assert (
            IBAN
            not in login(user).get("/portal/" if user.is_client_user else "/ops/").content.decode()
        )
    _, secret = do_create_api_token(world.member_a, name="t")
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.get(f"/api/v1/work-items/{item.pk}")
    assert IBAN not in response.content.decode()
    assert [d["masked"] for d in response.json()["sensitive"]] == ["•••• 3000", "•••• 6789"]
    assert AuditRecord.objects.filter(action="sensitive.reveal").count() == 0


def test_reveal_shows_the_values_and_is_audited_without_them(world: World) -> None:
    item = _item(world)
    response = login(world.member_a).post(
        f"/items/{item.pk}/sensitive/", headers={"HX-Request": "true"}
    )
    text = response.content.decode()
    assert IBAN in text and SSN in text and "<html" not in text
    record = AuditRecord.objects.get(action="sensitive.reveal")
    assert record.actor == world.member_a and record.client_id == world.client_a.pk
    assert IBAN not in json.dumps(record.detail) and "IBAN (bank_account)" in json.dumps(
        record.detail
    )


def test_api_reveal_is_audited_and_hidden_from_other_clients(world: World) -> None:
    item = _item(world)
    _, secret = do_create_api_token(world.member_a, name="t")
    api = HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    revealed = api.post(f"/api/v1/work-items/{item.pk}/sensitive/reveal").json()
    assert {d["value"] for d in revealed} == {IBAN, SSN}
    _, other = do_create_api_token(world.member_b, name="t")
    outsider = HttpClient(HTTP_AUTHORIZATION=f"Bearer {other}")
    assert outsider.post(f"/api/v1/work-items/{item.pk}/sensitive/reveal").status_code == 404
    assert AuditRecord.objects.filter(action="sensitive.reveal").count() == 1


def test_an_agent_reveals_only_while_holding_the_item(world: World) -> None:
    item = _item(world)
    with pytest.raises(NotAllowed, match="Take the item first"):
        do_reveal_sensitive(world.other_agent, item)  # it is offered to them, not held
    item = do_assign(world.lead, item, world.agent.agent)
    assert {d.value for d in do_reveal_sensitive(world.agent, item)} == {IBAN, SSN}
    with pytest.raises(NotFound):
        do_reveal_sensitive(world.other_agent, item)


def test_provider_admin_role_cannot_reveal(world: World) -> None:
    item = _item(world)
    response = login(world.admin).post(f"/items/{item.pk}/sensitive/")
    assert response.status_code == 403 and IBAN not in response.content.decode()


def test_bad_details_are_refused_at_intake(world: World) -> None:
    with pytest.raises(Invalid, match="kind is one of"):
        submit(world.member_a, world.engagement_a, sensitive=(("pin", "PIN", "1234"),))
    with pytest.raises(Invalid, match="label"):
        submit(world.member_a, world.engagement_a, sensitive=(("other", " ", "x"),))


def test_portal_form_stores_details_and_shows_them_masked(world: World) -> None:
    browser = login(world.member_a)
    response = browser.post(
        "/portal/new/",
        {
            "engagement": world.engagement_a.pk,
            "service": "data-entry",
            "title": "Fix pay",
            "priority": 2,
            "language": "en",
            "sensitive_kind_1": "bank_account",
            "sensitive_label_1": "IBAN",
            "sensitive_value_1": IBAN,
            "sensitive_kind_2": "other",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "•••• 3000" in page and IBAN not in page
