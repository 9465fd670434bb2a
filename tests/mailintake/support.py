"""Helpers for mail intake tests: intake addresses, fixture messages and a Maildir."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from relaydesk.catalog.models import Service
from relaydesk.mailintake.actions import do_ingest_message, do_save_intake_address
from relaydesk.mailintake.models import IntakeAddress
from relaydesk.work.models import WorkItem
from tests.conftest import World

MAIL = Path(__file__).parent / "mail"


@dataclass
class Intake:
    """The intake addresses of the world's two clients."""

    alpha: IntakeAddress
    bravo: IntakeAddress


def intake_addresses(world: World) -> Intake:
    """alpha-claims@ files document processing for client A, bravo-support@ customer support
    for client B; set up by a provider admin through the real action."""
    alpha = do_save_intake_address(
        world.admin,
        IntakeAddress(
            engagement=world.engagement_a,
            local_part="alpha-claims",
            service=Service.objects.get(slug="document-processing"),
        ),
    )
    bravo = do_save_intake_address(
        world.admin,
        IntakeAddress(
            engagement=world.engagement_b,
            local_part="bravo-support",
            service=Service.objects.get(slug="customer-support"),
        ),
    )
    return Intake(alpha=alpha, bravo=bravo)


def message(name: str, **replace: str) -> bytes:
    """The bytes of ``mail/<name>.eml``, with placeholders such as RD-0000 replaced."""
    raw = (MAIL / f"{name}.eml").read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def deliver(folder: Path, raws: Iterable[bytes]) -> Path:
    """A Maildir at ``folder`` with ``raws`` delivered into new/, as a mail server does."""
    box = mailbox.Maildir(folder, create=True)
    for raw in raws:
        box.add(raw)
    return folder


def mail_rows(world: World, items: Iterable[WorkItem]) -> None:
    """For the row-security tests: each client's intake address, a reply filed on each
    client's item, and a message from a stranger held in each client's quarantine."""
    intake = intake_addresses(world)
    senders = {world.client_a.pk: world.client_admin_a, world.client_b.pk: world.client_admin_b}
    addresses = {world.client_a.pk: intake.alpha.address, world.client_b.pk: intake.bravo.address}
    for item in items:
        to = addresses[item.client_id]
        reply = (
            f"From: {senders[item.client_id].email}\r\nTo: {to}\r\n"
            f"Subject: Re: [{item.reference}] {item.title}\r\n"
            f"Message-ID: <reply-{item.pk}@rows.test>\r\n\r\nOne more note by e-mail.\r\n"
        ).encode()
        stranger = (
            f"From: someone@stranger.example\r\nTo: {to}\r\nSubject: Hello\r\n"
            f"Message-ID: <stranger-{item.pk}@rows.test>\r\n\r\nLet me in.\r\n"
        ).encode()
        assert do_ingest_message(reply).result == "commented"
        assert do_ingest_message(stranger).result == "quarantined"
