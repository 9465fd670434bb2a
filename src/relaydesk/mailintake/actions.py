"""Every write of e-mail intake: filing a message, the quarantine, and intake addresses.

A message becomes a work item through :func:`relaydesk.work.actions.do_submit_work_item`,
or a comment through :func:`relaydesk.work.actions.do_add_comment`, as the
client's user who sent it, so it passes the same checks (permissions, content
of files, encryption) as anything submitted in the portal. Whatever cannot be
filed is quarantined with the reason; nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from io import BytesIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.core.permissions import Permission, can
from relaydesk.errors import ActionRefused, Conflict, Invalid, NotAllowed, NotFound
from relaydesk.mailintake.models import (
    IngestedMessage,
    IntakeAddress,
    QuarantinedMessage,
    QuarantineState,
    Reason,
    Result,
    intake_domain,
)
from relaydesk.mailintake.parsing import (
    Headline,
    MailPart,
    MailRefused,
    ParsedMail,
    clean_subject,
    client_reference,
    dedupe_key,
    headline,
    message_id_hash,
    parse_mail,
    referenced_items,
    strip_quoted_reply,
)
from relaydesk.mailintake.queries import intake_address_for, item_replied_to, visible_quarantine
from relaydesk.mailintake.sealing import open_raw, seal_raw
from relaydesk.tenancy import rowsecurity
from relaydesk.vault.crypto import DecryptionError
from relaydesk.vault.keys import KeyUnavailable
from relaydesk.vault.sniff import ContentRefused, check_content
from relaydesk.work.actions import NewWorkItem, do_add_attachment, do_add_comment
from relaydesk.work.actions import do_submit_work_item as submit_item
from relaydesk.work.models import Comment, Visibility, WorkItem

logger = logging.getLogger(__name__)

DUPLICATE = "duplicate"
DESCRIPTION_LIMIT = 100_000
COMMENT_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class Ingested:
    """What became of one message: ``result`` is created, commented, quarantined or duplicate."""

    result: str
    item: WorkItem | None = None
    comment: Comment | None = None
    quarantined: QuarantinedMessage | None = None


class _Hold(Exception):
    """The message goes to the quarantine with ``code`` and ``reason``."""

    def __init__(self, code: str, reason: str, intake: IntakeAddress | None = None) -> None:
        super().__init__(reason)
        self.code, self.reason, self.intake = code, reason, intake


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a readable message from an accepted sender will become."""

    mail: ParsedMail
    intake: IntakeAddress
    actor: User
    on_behalf: str
    reply_to: WorkItem | None
    follow_up_of: WorkItem | None


def do_ingest_message(raw: bytes, *, source: str = "", at: dt.datetime | None = None) -> Ingested:
    """File one raw message as a new work item, a reply on an item, or in the quarantine.

    Run by the system (``relaydesk ingest-mail``), never by a person. A message
    seen before (the same Message-ID from the same sender) is not filed again:
    the result is ``duplicate``. The work is committed when this returns, so the
    caller may then mark the message as read in its mailbox.
    """
    at = at or timezone.now()
    head = headline(raw)
    key = dedupe_key(raw, head)
    if IngestedMessage.objects.filter(dedupe_key=key).exists():
        return Ingested(DUPLICATE)
    try:
        return _take_in(raw, head, key, source=source, at=at)
    except IntegrityError:
        # Another run filed the same message first: its transaction won.
        if IngestedMessage.objects.filter(dedupe_key=key).exists():
            return Ingested(DUPLICATE)
        raise


def _take_in(raw: bytes, head: Headline, key: str, *, source: str, at: dt.datetime) -> Ingested:
    """File the message, or hold it with the reason."""
    outcome = _attempt(raw, head, key, source=source, at=at, existing=None)
    if isinstance(outcome, _Hold):
        return _hold(raw, head, key, outcome, source=source, at=at)
    return outcome


def _attempt(
    raw: bytes,
    head: Headline,
    key: str,
    *,
    source: str,
    at: dt.datetime,
    existing: IngestedMessage | None,
) -> Ingested | _Hold:
    """File the message, or say why it must be held; ``existing`` is the row of a retry."""
    try:
        return _file(_plan(raw, head), key, source=source, at=at, existing=existing)
    except _Hold as held:
        return held
    except DatabaseError:
        raise
    except Exception as problem:
        # A message that trips a fault is held rather than retried forever; the log says why.
        logger.exception("A message (key %s) could not be filed", key[:12])
        return _Hold(
            Reason.ERROR,
            f"It could not be filed ({type(problem).__name__}); the server log has the details.",
            intake_address_for(head.recipients),
        )


def _plan(raw: bytes, head: Headline) -> _Plan:
    """Read the message and decide where it goes; :class:`_Hold` when it cannot be filed."""
    limit = settings.RELAYDESK_MAX_MAIL_BYTES
    if len(raw) > limit:
        raise _Hold(
            Reason.OVERSIZE,
            f"The message is {len(raw):,} bytes; the limit is {limit:,} bytes.",
            intake_address_for(head.recipients),
        )
    try:
        mail = parse_mail(raw)
    except MailRefused as refusal:
        raise _Hold(refusal.code, refusal.message, intake_address_for(head.recipients)) from None
    intake = intake_address_for(mail.recipients)
    if intake is None:
        named = ", ".join(mail.recipients[:5]) or "no recipient"
        raise _Hold(
            Reason.NO_INTAKE_ADDRESS,
            f"It is addressed to {named}: no known intake address at {intake_domain()}.",
        )
    if not intake.active:
        raise _Hold(
            Reason.INTAKE_OFF, f"The intake address {intake.address} is switched off.", intake
        )
    if mail.automatic:
        raise _Hold(Reason.AUTOMATIC, f"Not filed: {mail.automatic}.", intake)
    problem = _unverified(mail)
    if problem:
        raise _Hold(Reason.UNVERIFIED, problem, intake)
    actor, on_behalf = _sender(mail, intake)
    reply_to = _replied_item(mail, intake)
    follow_up_of = None
    if reply_to is not None and not reply_to.state_enum.is_open:
        # A reply to finished work is new work that points back to it.
        follow_up_of, reply_to = reply_to, None
    return _Plan(mail, intake, actor, on_behalf, reply_to, follow_up_of)


_AUTH_PASS = re.compile(r"\b(dmarc|dkim|spf)=pass\b([^;]*)", re.IGNORECASE)
_AUTH_DOMAIN = re.compile(r"\b(?:header\.d|header\.from|smtp\.mailfrom)=([^\s;]+)", re.IGNORECASE)


def _unverified(mail: ParsedMail) -> str:
    """Why the sender's address is not verified, or '' (also when no check is configured).

    Only the topmost Authentication-Results header counts, and only when our own
    mail server (``RELAYDESK_INTAKE_AUTHSERV_ID``) wrote it: a sender can put any
    header further down. DMARC pass, or DKIM or SPF pass for the From domain, verifies.
    """
    server = settings.RELAYDESK_INTAKE_AUTHSERV_ID.strip().lower()
    if not server:
        return ""
    first = mail.authentication_results[0] if mail.authentication_results else ""
    written_by = first.split(";", 1)[0].strip().split(" ")[0].lower()
    if written_by != server:
        return (
            f"The sender {mail.sender} is not verified: our mail server ({server}) "
            "did not check it."
        )
    domain = mail.sender_domain
    for method, properties in _AUTH_PASS.findall(first):
        if method.lower() == "dmarc":
            return ""
        for value in _AUTH_DOMAIN.findall(properties):
            checked = value.rpartition("@")[2].lower().rstrip(".")
            if checked == domain or domain.endswith("." + checked):
                return ""
    return (
        f"The sender {mail.sender} is not verified: neither DMARC, DKIM nor SPF passed "
        f"for {domain}."
    )


def _sender(mail: ParsedMail, intake: IntakeAddress) -> tuple[User, str]:
    """Who files the message, and whom it is filed for when that is someone else."""
    user = User.objects.filter(email=mail.sender).first()
    if (
        user is not None
        and user.is_active
        and user.client_id == intake.client_id
        and can(user.role_enum, Permission.SUBMIT_WORK)
    ):
        return user, ""
    if user is not None and user.client_id == intake.client_id:
        # Switched off (or a role without intake): not filed under someone else's name either.
        raise _Hold(
            Reason.UNKNOWN_SENDER,
            f"The sender {mail.sender} is not an active user of {intake.client.name} who may "
            "submit work.",
            intake,
        )
    deputy = intake.submit_as
    if (
        mail.sender_domain in intake.allowed_sender_domains
        and deputy is not None
        and deputy.is_active
        and deputy.client_id == intake.client_id
    ):
        name = f"{mail.sender_name} <{mail.sender}>" if mail.sender_name else mail.sender
        return deputy, name
    raise _Hold(
        Reason.UNKNOWN_SENDER,
        f"The sender {mail.sender} is not a user of {intake.client.name}.",
        intake,
    )


def _replied_item(mail: ParsedMail, intake: IntakeAddress) -> WorkItem | None:
    """The item the message replies to: by its thread (In-Reply-To, References), else by a
    reference such as RD-123; held when that item is not the client's."""
    item = item_replied_to(mail.references)
    if item is None:
        numbers = referenced_items(mail.subject, mail.text)
        if not numbers:
            return None
        item = WorkItem.objects.select_related("service", "client").filter(pk=numbers[0]).first()
        if item is None:
            raise _Hold(
                Reason.UNKNOWN_ITEM,
                f"It names RD-{numbers[0]}, which is not an item of {intake.client.name}.",
                intake,
            )
    if item.client_id != intake.client_id:
        raise _Hold(
            Reason.CROSS_CLIENT,
            f"It replies to {item.reference}, which is not an item of {intake.client.name}; "
            "replies are filed only on the sender's own client's items.",
            intake,
        )
    return item


def _upload_problem(part: MailPart, service_name: str, allowed: list[str]) -> str:
    """What the upload check would refuse ``part`` for, or '' (the same checks, made first,
    so that the reason held is the file's)."""
    limit = settings.RELAYDESK_MAX_UPLOAD_BYTES
    if len(part.data) > limit:
        return (
            f"The file '{part.filename}' is {len(part.data):,} bytes; the limit is {limit:,} bytes."
        )
    try:
        check_content(
            BytesIO(part.data), part.filename, allowed, service=f"the service '{service_name}'"
        )
    except ContentRefused as refusal:
        return refusal.message
    return ""


def _files(plan: _Plan) -> tuple[list[UploadedFile], list[str]]:
    """The message's files as uploads, and notes on inline pictures left out.

    A refused attachment holds the whole message: filing the text without the
    file the client sent would lose it quietly. Pictures shown inside the text
    (a logo in a signature) that the service does not accept are left out, and
    the item says so.
    """
    item = plan.reply_to
    service = item.service if item is not None else plan.intake.service
    allowed = list(service.allowed_file_types or [])
    files: list[UploadedFile] = []
    notes: list[str] = []
    for part in plan.mail.attachments:
        if not part.data:
            notes.append(f"The empty file '{part.filename}' was left out.")
            continue
        problem = _upload_problem(part, service.name, allowed)
        if not problem:
            files.append(SimpleUploadedFile(part.filename, part.data, part.content_type))
        elif part.inline:
            notes.append(f"A picture in the message was left out: {problem}")
        else:
            raise _Hold(Reason.ATTACHMENT_REFUSED, problem, plan.intake)
    return files, notes


def _title(mail: ParsedMail) -> str:
    title = clean_subject(mail.subject)
    reference = client_reference(mail.subject)
    if reference:
        # The client's reference leading the subject is the item's reference, not its title.
        title = re.sub(rf"^\[\s*{re.escape(reference)}\s*\]\s*", "", title) or title
    if title:
        return title
    first_line = next((line.strip() for line in mail.text.split("\n") if line.strip()), "")
    if first_line:
        return clean_subject(first_line[:80])
    return f"E-mail from {mail.sender}"[:200]


def _description(plan: _Plan, notes: list[str]) -> str:
    parts = []
    if plan.follow_up_of is not None:
        parts.append(f"Follow-up to {plan.follow_up_of.reference}, which is closed.")
    if plan.on_behalf:
        parts.append(f"Sent by {plan.on_behalf}.")
    parts += [plan.mail.text, *notes]
    return "\n\n".join(p for p in parts if p)


def _comment_body(plan: _Plan, files: list[UploadedFile], notes: list[str]) -> str:
    text = strip_quoted_reply(plan.mail.text)
    if not text and files:
        text = "Sent by e-mail: " + ", ".join(f.name or "file" for f in files) + "."
    if not text:
        return ""
    parts = [f"From {plan.on_behalf}:" if plan.on_behalf else "", text, *notes]
    return "\n\n".join(p for p in parts if p)


def _file(
    plan: _Plan, key: str, *, source: str, at: dt.datetime, existing: IngestedMessage | None
) -> Ingested:
    """Submit the item or post the reply as the sender, in one transaction with the row
    that marks the message as taken in."""
    files, notes = _files(plan)
    mail, intake = plan.mail, plan.intake
    if plan.reply_to is None:
        body = _description(plan, notes)
        if not body and not files and not mail.subject.strip():
            raise _Hold(Reason.EMPTY, "The message has no subject, no text and no files.", intake)
        if len(body) > DESCRIPTION_LIMIT:
            raise _Hold(
                Reason.TOO_LONG,
                f"The text is {len(body):,} characters; an item's description holds at most "
                f"{DESCRIPTION_LIMIT:,}.",
                intake,
            )
    else:
        body = _comment_body(plan, files, notes)
        if not body:
            raise _Hold(Reason.EMPTY, "The reply has no text and no files.", intake)
        if len(body) > COMMENT_LIMIT:
            raise _Hold(
                Reason.TOO_LONG,
                f"The reply is {len(body):,} characters; a comment holds at most "
                f"{COMMENT_LIMIT:,}.",
                intake,
            )
    item: WorkItem | None = None
    comment: Comment | None = None
    try:
        with transaction.atomic():
            # The row first: a second run filing the same message waits here, then fails.
            ingested = existing or IngestedMessage(dedupe_key=key)
            ingested.client_id = intake.client_id
            ingested.message_id_hash = message_id_hash(mail.message_id) if mail.message_id else ""
            ingested.source = source[:200]
            ingested.ingested_at = at
            ingested.result = Result.CREATED
            ingested.save()
            # The sender's own scope: the database too keeps the message inside its client.
            with rowsecurity.within(rowsecurity.Scope("client", intake.client_id)):
                if plan.reply_to is None:
                    item, _ = submit_item(
                        plan.actor,
                        NewWorkItem(
                            engagement_id=intake.engagement_id,
                            service_slug=intake.service.slug,
                            title=_title(mail),
                            description=body,
                            jurisdiction=intake.jurisdiction,
                            external_ref=client_reference(mail.subject),
                        ),
                        files=files,
                        at=at,
                    )
                    result = Result.CREATED
                else:
                    item = plan.reply_to
                    comment = do_add_comment(
                        plan.actor, item, body, visibility=Visibility.CLIENT, at=at
                    )
                    for upload in files:
                        do_add_attachment(plan.actor, item, upload, at=at)
                    result = Result.COMMENTED
            ingested.result, ingested.item, ingested.comment = result, item, comment
            ingested.save(update_fields=["result", "item", "comment"])
            record(
                actor=plan.actor,
                action="mail.file",
                obj=ingested,
                client=intake.client_id,
                at=at,
                detail={
                    "result": result.value,
                    "item": item.reference,
                    "intake_address": intake.address,
                    "files": len(files),
                    **({"sent_by": plan.on_behalf} if plan.on_behalf else {}),
                },
            )
    except ActionRefused as refusal:
        # Refused by the item's own rules (an engagement that ended, a service it no longer
        # covers): everything above was rolled back; the message is held with the reason.
        raise _Hold(Reason.REFUSED, refusal.message, intake) from None
    return Ingested(result.value, item=item, comment=comment)


def _hold(
    raw: bytes,
    head: Headline,
    key: str,
    held: _Hold,
    *,
    source: str,
    at: dt.datetime,
) -> Ingested:
    """Put the message in the quarantine with the reason, and remember that it was seen."""
    client_id = held.intake.client_id if held.intake is not None else None
    with transaction.atomic():
        quarantined = QuarantinedMessage(
            client_id=client_id,
            intake_address=held.intake,
            reason_code=held.code,
            reason=held.reason[:500],
            received_at=at,
            sender=head.sender[:320],
            recipients=head.to[:1000],
            subject=head.subject[:300],
            message_id=head.message_id[:500],
            source=source[:200],
        )
        _store_raw(quarantined, raw, at)
        quarantined.save()
        IngestedMessage.objects.create(
            dedupe_key=key,
            client_id=client_id,
            message_id_hash=message_id_hash(head.message_id) if head.message_id else "",
            result=Result.QUARANTINED,
            quarantined=quarantined,
            source=source[:200],
            ingested_at=at,
        )
        _record_quarantine(quarantined, at)
    return Ingested(Result.QUARANTINED.value, quarantined=quarantined)


def _record_quarantine(quarantined: QuarantinedMessage, at: dt.datetime) -> None:
    """The provider's audit record of a hold; the client's trail does not list mail it
    never received (the sender may be anyone)."""
    record(
        actor=None,
        action="mail.quarantine",
        obj=quarantined,
        client=None,
        at=at,
        detail={
            "reason": quarantined.reason_code,
            "client": quarantined.client_id,
            "intake_address": quarantined.intake_address_id,
        },
    )


def _store_raw(quarantined: QuarantinedMessage, raw: bytes, at: dt.datetime) -> None:
    """Keep the raw message encrypted, bound to this record: with the client's data key when
    the client is known, with the provider's quarantine key otherwise (the file is readable
    by its owner only)."""
    quarantined.size = len(raw)
    quarantined.sha256 = hashlib.sha256(raw).hexdigest()
    encryption_id = uuid.uuid4()
    sealed = seal_raw(raw, client_id=quarantined.client_id, encryption_id=encryption_id, at=at)
    quarantined.encryption_id = encryption_id
    quarantined.key_version = sealed.key_version
    quarantined.provider_key = sealed.provider_key
    folder = quarantined.client_id or "unassigned"
    quarantined.raw.save(
        f"quarantine/{folder}/{uuid.uuid4().hex}", ContentFile(sealed.content), save=False
    )


def raw_message(quarantined: QuarantinedMessage) -> bytes:
    """The raw bytes of a held message, decrypted; :class:`Conflict` when they cannot be read."""
    if not quarantined.raw:
        raise Conflict("The raw message is no longer kept.")
    try:
        with quarantined.raw.open("rb") as stored:
            if quarantined.encryption_id is None or quarantined.key_version is None:
                # Kept as it came by an earlier version. Migration mailintake 0002 encrypted
                # every such message, so this is only one whose file it could not read then;
                # a retry that holds it again stores it encrypted.
                return bytes(stored.read())
            return open_raw(
                stored,
                client_id=quarantined.client_id,
                encryption_id=quarantined.encryption_id,
                key_version=quarantined.key_version,
                provider_key=quarantined.provider_key,
            )
    except KeyUnavailable as problem:
        logger.warning("Quarantined message %s cannot be read: %s", quarantined.pk, problem)
        raise Conflict("The key that encrypted this message is not available.") from None
    except (OSError, DecryptionError) as problem:
        logger.warning("Quarantined message %s cannot be read: %s", quarantined.pk, problem)
        raise Conflict("The raw message cannot be read; it may have been tampered with.") from None


def _delete_raw_after_commit(quarantined: QuarantinedMessage) -> None:
    name, storage = quarantined.raw.name, quarantined.raw.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def _locked_held(actor: User, quarantined: QuarantinedMessage) -> QuarantinedMessage:
    if not can(actor.role_enum, Permission.MANAGE_MAIL_INTAKE):
        raise NotAllowed("Only a provider admin can handle quarantined mail.")
    locked = (
        visible_quarantine(actor).select_for_update(of=("self",)).filter(pk=quarantined.pk).first()
    )
    if locked is None:
        raise NotFound("No such quarantined message.")
    if locked.state != QuarantineState.HELD:
        raise Conflict(f"This message was already {locked.get_state_display().lower()}.")
    return locked


def do_retry_quarantined(
    actor: User,
    quarantined: QuarantinedMessage,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> Ingested:
    """Take a held message in again, as it would be now (after the sender was made a user,
    an intake address was set up, ...).

    Filed, it is released: the row keeps the item and the raw message is deleted.
    Held again, the row keeps the message with the new reason.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = _locked_held(actor, quarantined)
        raw = raw_message(locked)
        head = headline(raw)
        existing = IngestedMessage.objects.filter(quarantined=locked).first()
        key = existing.dedupe_key if existing is not None else dedupe_key(raw, head)
        outcome = _attempt(raw, head, key, source=locked.source, at=at, existing=existing)
        if isinstance(outcome, _Hold):
            _hold_again(locked, raw, outcome, at)
            record(
                actor=actor,
                action="mail.quarantine.retry",
                obj=locked,
                client=None,
                source_ip=source_ip,
                at=at,
                detail={"reason": locked.reason_code},
            )
            return Ingested(Result.QUARANTINED.value, quarantined=locked)
        _delete_raw_after_commit(locked)
        locked.state = QuarantineState.RELEASED
        locked.decided_at, locked.decided_by, locked.item = at, actor, outcome.item
        locked.raw = None
        locked.save()
        record(
            actor=actor,
            action="mail.quarantine.release",
            obj=locked,
            client=None,
            source_ip=source_ip,
            at=at,
            detail={"result": outcome.result, "client": locked.client_id},
        )
    return Ingested(outcome.result, item=outcome.item, comment=outcome.comment, quarantined=locked)


def _hold_again(locked: QuarantinedMessage, raw: bytes, held: _Hold, at: dt.datetime) -> None:
    """Keep a message held after a retry with its new reason (encrypted anew with its
    client's key if its client has become known, or with the provider's if it is no longer)."""
    client_id = held.intake.client_id if held.intake is not None else None
    locked.reason_code, locked.reason = held.code, held.reason[:500]
    locked.intake_address = held.intake
    if client_id != locked.client_id or locked.encryption_id is None:
        _delete_raw_after_commit(locked)
        locked.client_id = client_id
        _store_raw(locked, raw, at)
        IngestedMessage.objects.filter(quarantined=locked).update(client_id=client_id)
    locked.save()


def do_discard_quarantined(
    actor: User,
    quarantined: QuarantinedMessage,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> QuarantinedMessage:
    """Delete a held message's raw content (spam, a wrong address); the row stays as a record."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = _locked_held(actor, quarantined)
        _delete_raw_after_commit(locked)
        locked.state = QuarantineState.DISCARDED
        locked.decided_at, locked.decided_by = at, actor
        locked.raw = None
        locked.save()
        record(
            actor=actor,
            action="mail.quarantine.discard",
            obj=locked,
            client=None,
            source_ip=source_ip,
            at=at,
            detail={"reason": locked.reason_code, "client": locked.client_id},
        )
    return locked


_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


def check_intake_address(address: IntakeAddress) -> None:
    """Raise :class:`Invalid` with the first thing wrong with ``address``."""
    address.jurisdiction = address.jurisdiction.strip().upper()
    address.allowed_sender_domains = sorted(
        {str(d).strip().lower().rstrip(".") for d in address.allowed_sender_domains or [] if d}
    )
    try:
        address.full_clean(exclude=["client"])
    except ValidationError as problem:
        raise Invalid(" ".join(problem.messages)) from None
    engagement = address.engagement
    if not engagement.services.filter(pk=address.service_id).exists():
        raise Invalid(
            f"The engagement '{engagement.name}' does not cover the service '{address.service}'."
        )
    if address.jurisdiction and not _SUBDIVISION.match(address.jurisdiction):
        raise Invalid("A jurisdiction is a code such as US-FL.")
    if engagement.required_certification_id and not address.jurisdiction:
        raise Invalid(
            f"Work under '{engagement.name}' is tied to a jurisdiction: give one, such as US-FL."
        )
    deputy = address.submit_as
    if deputy is not None and (
        deputy.client_id != engagement.client_id
        or not deputy.is_active
        or not can(deputy.role_enum, Permission.SUBMIT_WORK)
    ):
        raise Invalid(f"'Submit as' must be an active user of {engagement.client}.")
    if address.allowed_sender_domains and deputy is None:
        raise Invalid(
            "Mail from the allowed sender domains needs a 'submit as' user to be filed as."
        )


def do_save_intake_address(
    actor: User,
    address: IntakeAddress,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> IntakeAddress:
    """Create or change an engagement's intake address (provider admins, in the back office)."""
    if not can(actor.role_enum, Permission.MANAGE_MAIL_INTAKE):
        raise NotAllowed("Only a provider admin can set intake addresses.")
    at = at or timezone.now()
    address.local_part = address.local_part.strip().lower()
    address.client_id = address.engagement.client_id
    check_intake_address(address)
    created = address.pk is None
    with transaction.atomic():
        if created:
            address.created_at = at
        address.updated_at = at
        address.save()
        record(
            actor=actor,
            action="mail.intake_address.create" if created else "mail.intake_address.change",
            obj=address,
            client=address.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "address": address.address,
                "engagement": address.engagement_id,
                "service": address.service.slug,
                "active": address.active,
                "allowed_sender_domains": address.allowed_sender_domains,
            },
        )
    return address
