"""Reading mailboxes: Maildir flags, IMAP URLs and the password, and what the command says.

The IMAP conversation itself (SEARCH UNSEEN, FETCH BODY.PEEK[], STORE \\Seen) is not run
against a server here; the reader is kept thin, and a refused connection is tested for real.
"""

from __future__ import annotations

import io
import mailbox
import socket
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from relaydesk.mailintake.sources import SourceError, maildir_messages, parse_imap_url
from tests.mailintake.support import deliver, message


def test_an_imaps_url_names_the_user_host_and_mailbox() -> None:
    where = parse_imap_url("imaps://claims%40alpha.test@mail.alpha.test/Claims%20Inbox")

    assert (where.user, where.host, where.port) == ("claims@alpha.test", "mail.alpha.test", 993)
    assert where.mailbox == "Claims Inbox" and where.implicit_tls
    assert parse_imap_url("imap://intake@mail.alpha.test:1143").port == 1143
    assert parse_imap_url("imap://intake@mail.alpha.test").mailbox == "INBOX"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("imaps://intake:hunter2@mail.alpha.test/INBOX", "Leave the password out of the URL"),
        ("pop3://intake@mail.alpha.test/", "imaps://USER@HOST/MAILBOX"),
        ("imaps://mail.alpha.test/INBOX", "needs a user and a host"),
        ("imaps://intake@mail.alpha.test:port/INBOX", "not a number"),
    ],
)
def test_a_wrong_imap_url_is_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(SourceError, match=problem):
        parse_imap_url(url)


def test_the_command_needs_the_password_in_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAYDESK_IMAP_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="Set RELAYDESK_IMAP_PASSWORD"):
        call_command("ingest_mail", "--imap", "imaps://intake@127.0.0.1/INBOX")


def test_an_unreachable_imap_server_is_a_clear_error_that_never_shows_the_password(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port nothing listens on: bound, then closed again.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("RELAYDESK_IMAP_PASSWORD", "s3cret-imap-password")

    with pytest.raises(CommandError) as refused:
        call_command(
            "ingest_mail",
            "--imap",
            f"imaps://intake@127.0.0.1:{port}/INBOX",
            stdout=io.StringIO(),
        )

    assert f"Cannot read imaps://intake@127.0.0.1:{port}/INBOX" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_the_maildir_reader_skips_seen_and_trashed_messages_and_marks_what_it_took(
    tmp_path: Path,
) -> None:
    folder = deliver(tmp_path / "box", [message("plain")])
    box = mailbox.Maildir(folder, create=False)
    for flags in ("S", "T", "F"):
        old = mailbox.MaildirMessage(message("auto-reply"))
        old.set_subdir("cur")
        old.set_flags(flags)
        box.add(old)

    unread = list(maildir_messages(folder))

    # New mail, and the flagged message that was never read.
    assert len(unread) == 2
    assert unread[0].raw == message("plain")
    for incoming in unread:
        incoming.done()
    assert not list(maildir_messages(folder))
    assert sorted(p.name.rpartition(":")[2] for p in (folder / "cur").iterdir()) == [
        "2,FS",
        "2,S",
        "2,S",
        "2,T",
    ]


def test_the_relaydesk_command_lists_ingest_mail(capsys: pytest.CaptureFixture[str]) -> None:
    from relaydesk.cli import main

    main(["--help"])

    assert "ingest-mail" in capsys.readouterr().out
