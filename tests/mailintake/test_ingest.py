"""E-mail intake from real messages: new items, threaded replies, and the quarantine."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from relaydesk.accounts.actions import do_create_user
from relaydesk.audit.models import AuditRecord
from relaydesk.core.roles import Role
from relaydesk.errors import Conflict, NotAllowed
from relaydesk.mailintake.actions import (
    do_discard_quarantined,
    do_ingest_message,
    do_retry_quarantined,
    do_save_intake_address,
    raw_message,
)
from relaydesk.mailintake.models import (
    IngestedMessage,
    QuarantinedMessage,
    QuarantineState,
    Reason,
)
from relaydesk.vault.actions import plaintext_of
from relaydesk.work.models import Attachment, Comment, Visibility, WorkItem
from tests.conftest import PASSWORD, World, login, submit
from tests.mailintake.support import Intake, deliver, intake_addresses, message


@pytest.fixture
def intake(world: World) -> Intake:
    return intake_addresses(world)


def ingest(folder: Path) -> str:
    """Run ``relaydesk ingest-mail --maildir`` and return what it printed."""
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest_mail", "--maildir", str(folder), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def only_item() -> WorkItem:
    return WorkItem.objects.get()


def held() -> QuarantinedMessage:
    return QuarantinedMessage.objects.get()


def test_a_plain_message_becomes_a_new_item_with_its_subject_and_text(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    printed = ingest(deliver(tmp_path / "mail", [message("plain")]))

    item = only_item()
    assert item.title == "Key the March PIP claim forms"
    assert "key the 40 PIP claim forms from the March batch" in item.description
    assert "March – PIP" in item.description  # quoted-printable UTF-8, decoded
    assert item.client == world.client_a and item.engagement == world.engagement_a
    assert item.service.slug == "document-processing"
    assert item.submitted_by == world.member_a
    assert item.state == "queued"
    assert "1 new items, 0 replies threaded, 0 quarantined" in printed
    submitted = AuditRecord.objects.get(action="work_item.submit")
    assert submitted.actor == world.member_a and submitted.client_id == world.client_a.pk
    filed = AuditRecord.objects.get(action="mail.file")
    assert filed.detail["item"] == item.reference


def test_the_clients_reference_in_the_subject_becomes_the_items_reference(
    world: World, intake: Intake
) -> None:
    raw = message("plain").replace(
        b"Subject: Key the March PIP claim forms", b"Subject: [MAT-2291] Key the March forms"
    )

    item = do_ingest_message(raw).item

    assert item is not None
    assert (item.external_ref, item.title) == ("MAT-2291", "Key the March forms")


def test_a_pdf_attachment_is_stored_encrypted_like_any_upload(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    ingest(deliver(tmp_path / "mail", [message("with-pdf")]))

    item = only_item()
    attachment = Attachment.objects.get(item=item)
    assert attachment.original_name == "hartwell-pip-application.pdf"
    assert attachment.file_kind == "pdf" and attachment.encryption_id is not None
    on_disk = Path(attachment.file.path).read_bytes()
    assert b"CONFIDENTIAL-CLAIM-7731" not in on_disk and not on_disk.startswith(b"%PDF")
    plain = b"".join(plaintext_of(attachment))
    assert plain.startswith(b"%PDF-1.4") and b"CONFIDENTIAL-CLAIM-7731" in plain
    # The client downloads it as they would a file uploaded in the portal.
    page = login(world.member_a).get(f"/items/{item.pk}/")
    assert "hartwell-pip-application.pdf" in page.content.decode()


def test_a_reply_naming_the_item_becomes_a_client_visible_comment_not_a_new_item(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    ingest(deliver(tmp_path / "first", [message("plain")]))
    item = only_item()

    printed = ingest(
        deliver(tmp_path / "reply", [message("reply-by-subject", **{"RD-0000": item.reference})])
    )

    assert WorkItem.objects.count() == 1
    comment = Comment.objects.get(item=item)
    assert comment.author == world.member_a and comment.visibility == Visibility.CLIENT
    assert comment.body == "Two more forms came in this morning; please add them to the batch."
    assert "0 new items, 1 replies threaded" in printed
    assert (
        "Two more forms came in" in login(world.member_a).get(f"/items/{item.pk}/").content.decode()
    )


def test_a_reply_in_the_thread_is_filed_by_its_headers_with_its_files(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    ingest(deliver(tmp_path / "first", [message("plain")]))
    item = only_item()

    ingest(deliver(tmp_path / "replies", [message("reply-in-thread"), message("reply-with-file")]))

    assert WorkItem.objects.count() == 1
    bodies = list(Comment.objects.filter(item=item).values_list("body", flat=True))
    # Outlook's quoted original is left out of the comment.
    assert bodies == [
        "Approved: the forms with a missing signature go back to the clinic.",
        "The two late forms are attached.",
    ]
    attachment = Attachment.objects.get(item=item)
    assert attachment.original_name == "late-forms.pdf"
    assert attachment.uploaded_by == world.client_admin_a
    assert b"CONFIDENTIAL-LATE-FORM-0041" not in Path(attachment.file.path).read_bytes()


@pytest.mark.parametrize(
    ("fixture", "code", "reason"),
    [
        ("no-from", Reason.UNPARSEABLE, "The message has no valid From address."),
        (
            "broken-mime",
            Reason.UNPARSEABLE,
            "The MIME structure is broken: a multipart part's boundary never appears.",
        ),
    ],
)
def test_a_malformed_message_is_quarantined_with_its_reason_and_nothing_else_is_stored(
    world: World, intake: Intake, tmp_path: Path, fixture: str, code: str, reason: str
) -> None:
    printed = ingest(deliver(tmp_path / "mail", [message(fixture)]))

    quarantined = held()
    assert (quarantined.reason_code, quarantined.reason) == (code, reason)
    assert quarantined.client == world.client_a  # its intake address says whose it is
    assert not WorkItem.objects.exists() and not Attachment.objects.exists()
    assert raw_message(quarantined) == message(fixture)
    assert "0 new items, 0 replies threaded, 1 quarantined" in printed
    record = AuditRecord.objects.get(action="mail.quarantine")
    assert record.actor is None and record.actor_label == "system"
    assert record.client_id is None and record.detail["reason"] == code


def test_mail_from_someone_who_is_not_a_user_of_the_client_is_quarantined(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    ingest(deliver(tmp_path / "mail", [message("unknown-sender")]))

    quarantined = held()
    assert quarantined.reason_code == Reason.UNKNOWN_SENDER
    assert quarantined.reason == "The sender sam@stranger.example is not a user of Alpha Law."
    assert quarantined.sender == "sam@stranger.example"
    assert quarantined.subject == "Please process my claim"
    assert not WorkItem.objects.exists()


def test_a_user_of_the_other_client_cannot_file_work_for_this_one(
    world: World, intake: Intake
) -> None:
    raw = message("plain").replace(b"member@alpha.test", world.member_b.email.encode())

    outcome = do_ingest_message(raw)

    assert outcome.result == "quarantined"
    assert outcome.quarantined is not None
    assert outcome.quarantined.reason == (
        f"The sender {world.member_b.email} is not a user of Alpha Law."
    )


def test_running_again_over_the_same_maildir_creates_nothing_new(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    folder = deliver(
        tmp_path / "mail", [message("plain"), message("with-pdf"), message("unknown-sender")]
    )
    ingest(folder)
    assert (WorkItem.objects.count(), QuarantinedMessage.objects.count()) == (2, 1)
    # Every message was marked seen and moved out of new/.
    assert not list((folder / "new").iterdir())
    assert all(name.name.endswith(":2,S") for name in (folder / "cur").iterdir())

    # The mail server delivers the same messages again, and the operator runs it twice more.
    deliver(folder, [message("plain"), message("with-pdf"), message("unknown-sender")])
    printed = ingest(folder)
    again = ingest(folder)

    assert (WorkItem.objects.count(), QuarantinedMessage.objects.count()) == (2, 1)
    assert Attachment.objects.count() == 1 and IngestedMessage.objects.count() == 3
    assert "0 new items, 0 replies threaded, 0 quarantined, 3 already taken in" in printed
    assert "Took in 0 messages" in again


def test_a_reply_naming_another_clients_item_is_quarantined(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    theirs = submit(world.member_b, world.engagement_b, title="Refund queue for February")

    ingest(
        deliver(tmp_path / "mail", [message("cross-client-reply", **{"RD-0000": theirs.reference})])
    )

    quarantined = held()
    assert quarantined.reason_code == Reason.CROSS_CLIENT
    assert f"{theirs.reference}, which is not an item of Alpha Law" in quarantined.reason
    assert not Comment.objects.filter(item=theirs).exists()
    assert WorkItem.objects.count() == 1


def test_a_reply_naming_an_item_that_does_not_exist_is_quarantined(
    world: World, intake: Intake
) -> None:
    outcome = do_ingest_message(message("cross-client-reply", **{"RD-0000": "RD-987654"}))

    assert outcome.quarantined is not None
    assert outcome.quarantined.reason_code == Reason.UNKNOWN_ITEM
    assert not WorkItem.objects.exists()


def test_an_html_message_is_filed_as_plain_text_without_its_scripts(
    world: World, intake: Intake
) -> None:
    outcome = do_ingest_message(message("html-only"))

    item = outcome.item
    assert item is not None
    assert item.title == "Draft the demand letter – Hartwell"
    assert "Please draft the demand letter for the Hartwell matter." in item.description
    assert "- Policy limit: $10,000" in item.description
    assert "the matter file (https://docs.alpha.test/hartwell)" in item.description
    for trace in ("<", "document.cookie", "evil.example", "color: red", "alert"):
        assert trace not in item.description


def test_a_refused_attachment_quarantines_the_whole_message_with_the_upload_checks_reason(
    world: World, intake: Intake
) -> None:
    outcome = do_ingest_message(message("refused-attachment"))

    assert outcome.quarantined is not None
    assert outcome.quarantined.reason_code == Reason.ATTACHMENT_REFUSED
    assert outcome.quarantined.reason == (
        "The file 'invoice.pdf' is a Windows executable, not a PDF; it was not stored."
    )
    assert not WorkItem.objects.exists() and not Attachment.objects.exists()


def test_automatic_replies_are_quarantined_not_filed(world: World, intake: Intake) -> None:
    outcome = do_ingest_message(message("auto-reply"))

    assert outcome.quarantined is not None
    assert outcome.quarantined.reason_code == Reason.AUTOMATIC
    assert "Auto-Submitted: auto-replied" in outcome.quarantined.reason


def test_mail_to_no_intake_address_is_kept_for_the_provider_readable_by_the_owner_only(
    world: World, intake: Intake
) -> None:
    outcome = do_ingest_message(message("wrong-address"))

    quarantined = outcome.quarantined
    assert quarantined is not None and quarantined.client is None
    assert quarantined.reason_code == Reason.NO_INTAKE_ADDRESS
    assert "nobody-here@intake.relaydesk.test" in quarantined.reason
    path = Path(quarantined.raw.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert raw_message(quarantined) == message("wrong-address")


def test_a_held_message_of_a_known_client_is_kept_encrypted(world: World, intake: Intake) -> None:
    raw = message("unknown-sender").replace(b"I heard", b"Patient 4471-CONFIDENTIAL: I heard")

    quarantined = do_ingest_message(raw).quarantined

    assert quarantined is not None and quarantined.encryption_id is not None
    on_disk = Path(quarantined.raw.path).read_bytes()
    assert b"4471-CONFIDENTIAL" not in on_disk and b"sam@stranger.example" not in on_disk
    assert raw_message(quarantined) == raw


def test_retrying_a_held_message_after_the_sender_became_a_user_files_it(
    world: World, intake: Intake, django_capture_on_commit_callbacks
) -> None:
    quarantined = do_ingest_message(message("unknown-sender")).quarantined
    assert quarantined is not None
    stored = Path(quarantined.raw.path)
    do_create_user(
        world.client_admin_a,
        email="sam@stranger.example",
        full_name="Sam Stranger",
        role=Role.CLIENT_MEMBER,
        password=PASSWORD,
        client=world.client_a,
    )

    with pytest.raises(NotAllowed):
        do_retry_quarantined(world.lead, quarantined)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = do_retry_quarantined(world.admin, quarantined)

    assert outcome.item is not None and outcome.item.title == "Please process my claim"
    assert outcome.item.submitted_by.email == "sam@stranger.example"
    quarantined.refresh_from_db()
    assert quarantined.state == QuarantineState.RELEASED and quarantined.item == outcome.item
    assert quarantined.decided_by == world.admin and not quarantined.raw
    assert IngestedMessage.objects.get().item == outcome.item
    assert AuditRecord.objects.filter(action="mail.quarantine.release", actor=world.admin).exists()
    # Delivered again, it is the same message: nothing new.
    assert do_ingest_message(message("unknown-sender")).result == "duplicate"
    with pytest.raises(Conflict):
        do_retry_quarantined(world.admin, quarantined)
    assert not stored.exists()


def test_a_retry_that_is_still_refused_keeps_the_message_with_the_reason_now(
    world: World, intake: Intake
) -> None:
    quarantined = do_ingest_message(message("wrong-address")).quarantined
    assert quarantined is not None and quarantined.client is None
    first_file = Path(quarantined.raw.path)
    # The address the sender used is given to client A, whose users the sender is not.
    raw = message("wrong-address").replace(b"member@alpha.test", b"member@bravo.test")
    quarantined = do_ingest_message(raw).quarantined
    assert quarantined is not None
    intake.alpha.local_part = "nobody-here"
    do_save_intake_address(world.admin, intake.alpha)

    outcome = do_retry_quarantined(world.admin, quarantined)

    quarantined.refresh_from_db()
    assert outcome.result == "quarantined" and quarantined.state == QuarantineState.HELD
    assert quarantined.reason == "The sender member@bravo.test is not a user of Alpha Law."
    # Now that its client is known, the message is kept encrypted with the client's key.
    assert quarantined.client == world.client_a and quarantined.encryption_id is not None
    assert raw_message(quarantined) == raw
    assert first_file.exists()  # the first message is another one, still as it was


def test_a_message_to_an_address_set_up_later_is_filed_on_retry(
    world: World, intake: Intake
) -> None:
    quarantined = do_ingest_message(message("wrong-address")).quarantined
    assert quarantined is not None

    intake.alpha.local_part = "nobody-here"
    do_save_intake_address(world.admin, intake.alpha)
    outcome = do_retry_quarantined(world.admin, quarantined)

    assert outcome.item is not None and outcome.item.client == world.client_a
    assert outcome.item.title == "Claims for the PIP team"


def test_discarding_deletes_the_raw_message_but_keeps_the_record(
    world: World, intake: Intake, django_capture_on_commit_callbacks
) -> None:
    quarantined = do_ingest_message(message("auto-reply")).quarantined
    assert quarantined is not None
    stored = Path(quarantined.raw.path)

    with django_capture_on_commit_callbacks(execute=True):
        do_discard_quarantined(world.admin, quarantined)

    quarantined.refresh_from_db()
    assert quarantined.state == QuarantineState.DISCARDED and not quarantined.raw
    assert not stored.exists()
    assert quarantined.subject.startswith("Out of office")
    assert AuditRecord.objects.filter(action="mail.quarantine.discard").exists()


def test_an_oversize_message_is_quarantined_unread(world: World, intake: Intake, settings) -> None:
    settings.RELAYDESK_MAX_MAIL_BYTES = 1000

    outcome = do_ingest_message(message("with-pdf"))

    assert outcome.quarantined is not None
    assert outcome.quarantined.reason_code == Reason.OVERSIZE
    assert "the limit is 1,000 bytes" in outcome.quarantined.reason
    assert outcome.quarantined.client == world.client_a


def test_a_switched_off_intake_address_holds_its_mail(world: World, intake: Intake) -> None:
    intake.alpha.active = False
    do_save_intake_address(world.admin, intake.alpha)

    outcome = do_ingest_message(message("plain"))

    assert outcome.quarantined is not None
    assert outcome.quarantined.reason == (
        "The intake address alpha-claims@intake.relaydesk.test is switched off."
    )


def test_colleagues_at_an_allowed_domain_file_work_as_the_named_user(
    world: World, intake: Intake
) -> None:
    intake.alpha.allowed_sender_domains = ["stranger.example"]
    intake.alpha.submit_as = world.client_admin_a
    do_save_intake_address(world.admin, intake.alpha)

    item = do_ingest_message(message("unknown-sender")).item

    assert item is not None and item.submitted_by == world.client_admin_a
    assert item.description.startswith("Sent by Sam Stranger <sam@stranger.example>.")


def test_only_senders_our_mail_server_verified_are_filed_when_it_checks(
    world: World, intake: Intake, settings
) -> None:
    settings.RELAYDESK_INTAKE_AUTHSERV_ID = "mx.intake.relaydesk.test"
    forged = b"Authentication-Results: mx.intake.relaydesk.test; dmarc=pass\r\n"
    verified = (
        b"Authentication-Results: mx.intake.relaydesk.test; spf=fail; "
        b"dkim=pass header.d=alpha.test\r\n"
    )
    # A header the sender wrote sits below the one our server adds on top.
    spoofed = b"Authentication-Results: mx.intake.relaydesk.test; spf=fail\r\n" + forged

    refused = do_ingest_message(spoofed + message("plain"))
    accepted = do_ingest_message(verified + message("with-pdf"))

    assert refused.quarantined is not None
    assert refused.quarantined.reason_code == Reason.UNVERIFIED
    assert accepted.item is not None


def test_the_command_counts_progress_and_refuses_a_folder_that_is_not_a_maildir(
    world: World, intake: Intake, tmp_path: Path
) -> None:
    folder = deliver(
        tmp_path / "mail",
        [message("plain"), message("unknown-sender"), message("html-only"), message("no-from")],
    )
    err = io.StringIO()
    call_command(
        "ingest_mail",
        "--maildir",
        str(folder),
        "--progress-every",
        "2",
        stdout=io.StringIO(),
        stderr=err,
    )
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("4 messages: 2 new items")

    with pytest.raises(CommandError, match="is not a Maildir"):
        call_command("ingest_mail", "--maildir", str(tmp_path), stdout=io.StringIO())


def test_a_switched_off_user_files_nothing_even_from_an_allowed_domain(
    world: World, intake: Intake
) -> None:
    intake.alpha.allowed_sender_domains = ["alpha.test"]
    intake.alpha.submit_as = world.client_admin_a
    do_save_intake_address(world.admin, intake.alpha)
    world.member_a.is_active = False
    world.member_a.save()

    outcome = do_ingest_message(message("plain"))

    assert outcome.quarantined is not None
    assert outcome.quarantined.reason == (
        "The sender member@alpha.test is not an active user of Alpha Law who may submit work."
    )


def test_a_reply_to_a_closed_item_becomes_a_follow_up_item(world: World, intake: Intake) -> None:
    from relaydesk.core.lifecycle import Action
    from relaydesk.work.actions import do_transition

    first = do_ingest_message(message("plain")).item
    assert first is not None
    do_transition(world.member_a, first, Action.CANCEL, note="Sent too early")

    follow_up = do_ingest_message(message("reply-in-thread")).item

    assert follow_up is not None and follow_up.pk != first.pk
    assert follow_up.title == "Key the March PIP claim forms"
    assert follow_up.description.startswith(f"Follow-up to {first.reference}, which is closed.")
    assert not Comment.objects.filter(item=first).exists()
