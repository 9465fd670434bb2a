"""The pages as each role uses them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from relaydesk.catalog.models import Service
from relaydesk.core.lifecycle import State
from relaydesk.work.actions import do_assign
from relaydesk.work.models import WorkItem
from tests.accounts.support import totp_code
from tests.conftest import PASSWORD, STAFF_TOTP_SECRET, World, login, submit


def test_sign_in_by_email_lands_each_role_on_its_home(world: World) -> None:
    homes = {
        world.member_a: "/portal/",
        world.client_admin_b: "/portal/",
        world.agent: "/workspace/",
        world.qa: "/workspace/reviews/",
        world.attorney: "/workspace/reviews/",
        world.analyst: "/workspace/reviews/",
        world.lead: "/ops/",
        world.admin: "/ops/",
    }
    for user, home in homes.items():
        browser = HttpClient()
        response = browser.post(
            "/accounts/login/", {"login": user.email.upper(), "password": PASSWORD}, follow=True
        )
        if user.is_provider_staff:  # provider staff enter an authenticator code as well
            response = browser.post(
                "/accounts/2fa/authenticate/",
                {"code": totp_code(STAFF_TOTP_SECRET)},
                follow=True,
            )
        assert response.redirect_chain[-1][0] == home, user.email
        assert user.full_name in response.content.decode()


def test_wrong_password_says_so(world: World) -> None:
    response = HttpClient().post(
        "/accounts/login/", {"login": "member@alpha.test", "password": "nope"}
    )
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_signup_is_closed(world: World) -> None:
    assert "by invitation" in HttpClient().get("/accounts/signup/").content.decode()


def test_client_submits_with_attachment_and_sees_it_queued(world: World) -> None:
    browser = login(world.member_a)
    form = browser.get("/portal/new/").content.decode()
    assert "Claims support" in form and "Support desk" not in form
    manila = zoneinfo.ZoneInfo("Asia/Manila")  # the member's own time zone
    due_local = (dt.datetime.now(manila) + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    due = due_local.strftime("%Y-%m-%dT%H:%M")
    response = browser.post(
        "/portal/new/",
        {
            "engagement": world.engagement_a.pk,
            "service": "document-processing",
            "title": "PIP bill – claimant J. Ortiz",
            "description": "Three pages.",
            "priority": 3,
            "jurisdiction": "us-fl",
            "language": "en",
            "external_ref": "HC-2231",
            "due_at": due,
            "attachments": [SimpleUploadedFile("bill.pdf", b"%PDF-1.4 bill", "application/pdf")],
        },
        follow=True,
    )
    page = response.content.decode()
    item = WorkItem.objects.get()
    assert f"{item.reference} received and queued." in page
    assert item.jurisdiction == "US-FL" and item.state == State.QUEUED
    assert "bill.pdf" in page and "Queued" in page
    assert item.due_at == due_local  # typed in Manila time, stored as the same instant


def test_submit_form_errors_keep_what_was_typed(world: World) -> None:
    response = login(world.member_a).post(
        "/portal/new/",
        {
            "engagement": world.engagement_a.pk,
            "service": "document-processing",
            "title": "",
            "description": "keep me",
            "priority": 2,
            "language": "en",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "This field is required." in page and "keep me" in page
    assert WorkItem.objects.count() == 0


def test_portal_list_filters_and_htmx_partial(world: World) -> None:
    submit(world.member_a, world.engagement_a, title="Alpha keying batch")
    submit(world.member_a, world.engagement_a, "legal-drafting", title="Demand letter draft")
    browser = login(world.member_a)
    page = browser.get("/portal/?service=legal-drafting").content.decode()
    assert "Demand letter draft" in page and "Alpha keying batch" not in page
    partial = browser.get("/portal/?search=keying", headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert "Alpha keying batch" in text and "<html" not in text


def test_lead_assigns_from_the_item_page_with_reasons_for_ineligible_agents(world: World) -> None:
    item = submit(
        world.member_a,
        world.engagement_pip,
        "document-processing",
        jurisdiction="US-FL",
        title="PIP bill",
    )
    browser = login(world.lead)
    page = browser.get(f"/items/{item.pk}/").content.decode()
    assert "no valid pip-no-fault certification for US-FL" in page  # the other agent
    response = browser.post(
        f"/items/{item.pk}/assign/", {"agent": world.agent.agent.pk}, follow=True
    )
    assert "assigned to Agent" in response.content.decode()
    refused = browser.post(f"/items/{item.pk}/assign/", {"agent": world.other_agent.agent.pk})
    assert refused.status_code == 409
    assert "cannot take this item" in refused.content.decode()


def test_agent_works_and_client_accepts_through_pages(world: World) -> None:
    Service.objects.filter(slug="data-entry").update(review_policy="none")
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    agent = login(world.agent)
    assert item.title in agent.get("/workspace/").content.decode()
    agent.post(f"/items/{item.pk}/actions/start/")
    page = agent.get(f"/items/{item.pk}/").content.decode()
    assert "Complete" in page and "Wait on client" in page
    agent.post(f"/items/{item.pk}/actions/complete/")
    client = login(world.member_a)
    too_soon = client.post(f"/items/{item.pk}/actions/start/")
    assert too_soon.status_code == 403
    assert "not allowed for your role" in too_soon.content.decode()
    client.post(f"/items/{item.pk}/actions/accept/")
    item.refresh_from_db()
    assert item.state == State.ACCEPTED
    again = client.post(f"/items/{item.pk}/actions/accept/")
    assert again.status_code == 409 and "accepted" in again.content.decode()


def test_client_never_sees_internal_timeline_or_owner_changes(world: World) -> None:
    item = submit(world.member_a, world.engagement_a)
    do_assign(world.lead, item, world.agent.agent)
    page = login(world.member_a).get(f"/items/{item.pk}/").content.decode()
    assert "Submitted" in page and "Assigned" in page  # the state badge, not the event
    assert "to Agent" not in page


def test_role_pages_refuse_other_roles_with_403(world: World) -> None:
    assert login(world.member_a).get("/ops/").status_code == 403
    assert login(world.agent).get("/portal/").status_code == 403
    assert login(world.lead).get("/workspace/").status_code == 403
    assert HttpClient().get("/ops/").status_code == 302


def test_token_page_shows_the_secret_once(world: World) -> None:
    browser = login(world.member_a)
    created = browser.post("/account/tokens/", {"name": "Case sync"}).content.decode()
    assert "rdk_" in created and "shown only once" in created
    listing = browser.get("/account/tokens/").content.decode()
    assert "Case sync" in listing and "shown only once" not in listing
    empty = browser.post("/account/tokens/", {"name": " "})
    assert empty.status_code == 422


def test_download_is_audited_and_safe(world: World) -> None:
    from relaydesk.audit.models import AuditRecord

    item = submit(world.member_a, world.engagement_a, with_file=True)
    attachment = item.attachments.get()
    response = login(world.member_a).get(f"/items/{item.pk}/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert AuditRecord.objects.filter(action="attachment.download").count() == 1


def test_pages_carry_security_headers(world: World) -> None:
    response = login(world.member_a).get("/portal/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
