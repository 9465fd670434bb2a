"""The back office: provider admins set up intake addresses and handle the quarantine."""

from __future__ import annotations

from django.test import Client as HttpClient

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.catalog.models import Service
from relaydesk.mailintake.actions import do_ingest_message
from relaydesk.mailintake.models import IntakeAddress, QuarantinedMessage, QuarantineState
from tests.conftest import PASSWORD, World, login
from tests.mailintake.support import intake_addresses, message


def back_office(world: World) -> HttpClient:
    root = User.objects.create_superuser("root@provider.test", PASSWORD, full_name="Root Admin")
    return login(root)


def test_a_provider_admin_gives_an_engagement_its_intake_address(world: World) -> None:
    service = Service.objects.get(slug="document-processing")

    response = back_office(world).post(
        "/admin/mailintake/intakeaddress/add/",
        {
            "engagement": world.engagement_pip.pk,
            "local_part": "Alpha-PIP",
            "service": service.pk,
            "jurisdiction": "us-fl",
            "active": "on",
            "allowed_sender_domains": "alpha-clinic.test, Alpha-Billing.test",
            "submit_as": world.client_admin_a.pk,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    address = IntakeAddress.objects.get()
    assert address.address == "alpha-pip@intake.relaydesk.test"
    assert address.client == world.client_a and address.jurisdiction == "US-FL"
    assert address.allowed_sender_domains == ["alpha-billing.test", "alpha-clinic.test"]
    record = AuditRecord.objects.get(action="mail.intake_address.create")
    assert record.client_id == world.client_a.pk
    assert record.detail["address"] == "alpha-pip@intake.relaydesk.test"


def test_the_back_office_explains_what_is_wrong_with_an_intake_address(world: World) -> None:
    browser = back_office(world)
    base = {"engagement": world.engagement_pip.pk, "local_part": "alpha-pip", "active": "on"}
    support = Service.objects.get(slug="customer-support").pk
    processing = Service.objects.get(slug="document-processing").pk

    cases: list[tuple[dict[str, object], str]] = [
        ({"service": support}, "does not cover the service"),
        ({"service": processing}, "tied to a jurisdiction"),
        (
            {"service": processing, "jurisdiction": "US-FL", "submit_as": world.member_b.pk},
            "must be an active user of Alpha Law",
        ),
        (
            {"service": processing, "jurisdiction": "US-FL", "allowed_sender_domains": "x.test"},
            "needs a &#x27;submit as&#x27; user",
        ),
        ({"service": processing, "jurisdiction": "US-FL", "local_part": "-bad"}, "lower-case"),
    ]
    for fields, problem in cases:
        page = browser.post("/admin/mailintake/intakeaddress/add/", {**base, **fields})
        assert page.status_code == 200 and problem in page.content.decode(), problem
    assert not IntakeAddress.objects.exists()


def test_the_quarantine_is_retried_from_its_list_and_closed_to_clients(world: World) -> None:
    intake_addresses(world)
    quarantined = do_ingest_message(message("unknown-sender")).quarantined
    assert quarantined is not None
    browser = back_office(world)

    listing = browser.get("/admin/mailintake/quarantinedmessage/")
    assert "Please process my claim" in listing.content.decode()
    detail = browser.get(f"/admin/mailintake/quarantinedmessage/{quarantined.pk}/change/")
    assert "is not a user of Alpha Law" in detail.content.decode()
    retried = browser.post(
        "/admin/mailintake/quarantinedmessage/",
        {"action": "retry", "_selected_action": [quarantined.pk]},
        follow=True,
    )
    assert "1 still held" in retried.content.decode()
    discarded = browser.post(
        "/admin/mailintake/quarantinedmessage/",
        {"action": "discard", "_selected_action": [quarantined.pk]},
        follow=True,
    )
    assert "Discarded 1 message" in discarded.content.decode()
    assert QuarantinedMessage.objects.get().state == QuarantineState.DISCARDED

    for outsider in (world.client_admin_a, world.lead):
        page = login(outsider).get("/admin/mailintake/quarantinedmessage/")
        assert page.status_code == 302
