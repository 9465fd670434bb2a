"""The demo's e-mail intake: each engagement's intake address, and a morning's mail.

Every demo engagement gets its address at ``RELAYDESK_INTAKE_DOMAIN``. Then a
handful of messages are written into a temporary Maildir and taken in through
the real intake (:func:`relaydesk.mailintake.sources.maildir_messages` and
:func:`relaydesk.mailintake.actions.do_ingest_message`, as ``relaydesk
ingest-mail`` reads them), a few hours before the demo's "now": a PIP bill
review with the bills as a PDF, a refund exception and a colleague's reply in
its thread, an off-cycle payroll run, and a stranger's pitch that waits in the
quarantine. Fixed texts, ids and times: the same demo every time.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from django.conf import settings

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.core.roles import Role
from relaydesk.demo.content import DASH, pdf_bytes
from relaydesk.demo.plan import STAFF
from relaydesk.mailintake.actions import do_ingest_message, do_save_intake_address
from relaydesk.mailintake.models import IntakeAddress
from relaydesk.mailintake.sources import maildir_messages
from relaydesk.routing.actions import push_on_arrival_paused

__all__ = ["load_demo_mail"]

# Each client's address: (local part, the service new mail is filed as, its jurisdiction).
ADDRESSES = {
    "hartwell-cole": ("hartwell-pip", "document-processing", "US-FL"),
    "northwind": ("northwind-care", "customer-support", ""),
    "brightpath": ("brightpath-payroll", "payroll", ""),
    "meridian": ("meridian-research", "market-research", ""),
}
SOURCE = "demo mailbox"


@dataclass(frozen=True, slots=True)
class _Mail:
    """One message of the demo's mailbox."""

    at: dt.datetime
    sender: tuple[str, str]  # (name, address)
    to: str
    subject: str
    text: str
    message_id: str
    in_reply_to: str = ""
    pdf: tuple[str, list[str]] | None = None  # (file name, lines on its page)


def _raw(mail: _Mail) -> bytes:
    """The message as a mail server would deliver it (stamped as verified when intake checks
    senders), with a fixed MIME boundary so the bytes are the same every time."""
    message = EmailMessage()
    server = str(getattr(settings, "RELAYDESK_INTAKE_AUTHSERV_ID", "")).strip()
    domain = mail.sender[1].rpartition("@")[2]
    if server:
        message["Authentication-Results"] = f"{server}; dmarc=pass header.from={domain}"
    message["From"] = formataddr(mail.sender)
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.at)
    message["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        message["In-Reply-To"] = f"<{mail.in_reply_to}>"
        message["References"] = f"<{mail.in_reply_to}>"
    message.set_content(mail.text)
    if mail.pdf is not None:
        name, lines = mail.pdf
        message.add_attachment(
            pdf_bytes(lines), maintype="application", subtype="pdf", filename=name
        )
        message.set_boundary(f"=_demo_{mail.message_id.partition('@')[0]}")
    return message.as_bytes(policy=policy.SMTP)


def _morning_mail(
    clients: Mapping[str, Any], addresses: Mapping[str, IntakeAddress], now: dt.datetime
) -> list[_Mail]:
    """The messages, oldest first."""

    def person(user: User) -> tuple[str, str]:
        return (user.full_name, user.email)

    def ago(minutes: int) -> dt.datetime:
        return now - dt.timedelta(minutes=minutes)

    day = f"{now:%Y%m%d}"
    hartwell, northwind, brightpath = (
        clients[s] for s in ("hartwell-cole", "northwind", "brightpath")
    )
    matter = f"HC-{now:%y}-4471"
    refund_id = f"{day}.refund-48213@northwind.test"
    refund_sent = ago(150)
    return [
        _Mail(
            at=ago(190),
            sender=person(hartwell.member),
            to=addresses["hartwell-cole"].address,
            subject=f"[{matter}] PIP bill review {DASH} claimant Rosa Delgado, Bayfront Medical",
            text=(
                "Hi team,\n\n"
                "Attached are the Bayfront Medical bills for our client Rosa Delgado "
                "(Progressive claim 4471-22-0931), dates of service in the last two months. "
                "Please index every page, check each CPT line against the Florida PIP fee "
                "schedule and flag anything billed above it.\n\n"
                f"Paul Okafor\nParalegal, {hartwell.client.name}\n"
            ),
            message_id=f"{day}.pip-4471@hartwell-cole.test",
            pdf=(
                "delgado-bayfront-bills.pdf",
                [
                    "Bayfront Medical Center - itemized statement",
                    "Patient: Rosa Delgado    Claim: 4471-22-0931",
                    "99284  ER visit, high severity      $1,840.00",
                    "72040  X-ray cervical spine          $312.00",
                    "97110  Therapeutic exercise x4       $260.00",
                ],
            ),
        ),
        _Mail(
            at=refund_sent,
            sender=person(northwind.admin),
            to=addresses["northwind"].address,
            subject="[CS-20931] Refund exception for order #48213",
            text=(
                "Hello,\n\n"
                "The customer on order #48213 (two Alpine 45L packs) says the parcel never "
                "arrived, but the carrier shows it delivered. It is past our 30-day window; "
                "please refund it anyway as a goodwill exception and reply to the customer "
                "with our apology.\n\n"
                "Erin Caldwell\nCustomer care lead, Northwind Outfitters\n"
            ),
            message_id=refund_id,
        ),
        _Mail(
            at=ago(120),
            sender=person(brightpath.admin),
            to=addresses["brightpath"].address,
            subject=f"[PR-2611] Off-cycle payroll {DASH} two terminations at the Joliet plant",
            text=(
                "Two hourly employees at the Joliet plant leave us on Friday (badges J-1182 "
                "and J-1207). Illinois wants their final pay by the next regular payday; "
                "please run an off-cycle payroll with accrued vacation paid out, and send me "
                "the register to approve before it goes to the bank.\n\n"
                "Karen Novak\nHR director, Brightpath Manufacturing\n"
            ),
            message_id=f"{day}.payroll-2611@brightpath.test",
        ),
        _Mail(
            at=ago(95),
            sender=("Trevor Banks", "trevor@summit-deal-advisors.example"),
            to=addresses["meridian"].address,
            subject="Off-market opportunity: mid-market SaaS carve-out",
            text=(
                "Hi there,\n\n"
                "We are running a quiet process for a $40M ARR vertical SaaS carve-out and "
                "thought of Meridian. Happy to send the teaser under NDA; could your research "
                "desk take a first look this week?\n\nTrevor\n"
            ),
            message_id=f"{day}.teaser-77@summit-deal-advisors.example",
        ),
        _Mail(
            at=ago(40),
            sender=person(northwind.member),
            to=addresses["northwind"].address,
            subject="Re: [CS-20931] Refund exception for order #48213",
            text=(
                "Adding to Erin's note: the customer has just sent a photo of the carrier's "
                "delivery scan, which shows the wrong street. Please mention in the reply "
                "that we have raised it with the carrier.\n\n"
                "Luis\n\n"
                f"On {format_datetime(refund_sent)}, Erin Caldwell <{northwind.admin.email}> "
                "wrote:\n"
                "> The customer on order #48213 (two Alpine 45L packs) says the parcel never\n"
                "> arrived, but the carrier shows it delivered.\n"
            ),
            message_id=f"{day}.refund-48213-re@northwind.test",
            in_reply_to=refund_id,
        ),
    ]


def load_demo_mail(clients: Mapping[str, Any], now: dt.datetime) -> str:
    """Give every demo engagement its intake address and take in the morning's mail; a
    summary line. ``clients`` holds each demo client's side (engagement, admin, member)."""
    admin_email = next(s.email for s in STAFF if s.role is Role.PROVIDER_ADMIN)
    admin = User.objects.get(email=admin_email)
    addresses: dict[str, IntakeAddress] = {}
    for slug, side in clients.items():
        local_part, service, jurisdiction = ADDRESSES[slug]
        addresses[slug] = do_save_intake_address(
            admin,
            IntakeAddress(
                engagement=side.engagement,
                local_part=local_part,
                service=Service.objects.get(slug=service),
                jurisdiction=jurisdiction,
            ),
            at=now - dt.timedelta(days=14),
        )
    mails = _morning_mail(clients, addresses, now)
    counts: Counter[str] = Counter()
    # Mail that came in this morning has waited in the queue, not been pushed to agents.
    with (
        tempfile.TemporaryDirectory(prefix="relaydesk-demo-mail-") as folder,
        push_on_arrival_paused(),
    ):
        root = Path(folder) / "intake"
        box = mailbox.Maildir(root, create=True)
        arrived: dict[bytes, dt.datetime] = {}
        for mail in mails:
            raw = _raw(mail)
            key = box.add(raw)
            # The file's time is when the mail server delivered it: intake reads oldest first.
            stamp = int(mail.at.timestamp()) * 1_000_000_000
            os.utime(root / "new" / key, ns=(stamp, stamp))
            arrived[raw] = mail.at
        for incoming in maildir_messages(root):
            outcome = do_ingest_message(incoming.raw, source=SOURCE, at=arrived[incoming.raw])
            incoming.done()
            counts[outcome.result] += 1
    return (
        f"mail: {len(addresses)} intake addresses; {counts['created']} new items, "
        f"{counts['commented']} reply threaded, {counts['quarantined']} quarantined"
    )
