"""Reading messages: subjects, replies, HTML, and headers that do not parse."""

from __future__ import annotations

from relaydesk.mailintake.parsing import (
    clean_subject,
    client_reference,
    headline,
    html_to_text,
    parse_mail,
    referenced_items,
    strip_quoted_reply,
)
from tests.mailintake.support import message


def test_a_subject_loses_reply_prefixes_and_reference_tags() -> None:
    assert clean_subject("Re: FW: AW: [RD-12] Hartwell demand") == "Hartwell demand"
    assert clean_subject("  Key\tthe\nforms ") == "Key the forms"
    long = clean_subject("x" * 300)
    assert len(long) == 200 and long.endswith("…")


def test_a_subject_carries_the_clients_own_reference_in_brackets() -> None:
    assert client_reference("[MAT-2291] Demand letter") == "MAT-2291"
    assert client_reference("Fwd: [External] [ HC-26-4471 ] Bills") == "HC-26-4471"
    assert client_reference("[#4471] Refund") == "#4471"
    # Tags, part counters and our own references are not the client's reference.
    for subject in ("[External] Hello", "[1/3] Scans", "[2 of 3] Scans", "Re: [RD-12] Forms"):
        assert client_reference(subject) == "", subject


def test_a_reply_names_its_item_in_the_subject_or_in_brackets_in_the_text() -> None:
    assert referenced_items("Re: [RD-41] Forms", "") == [41]
    assert referenced_items("Question about rd-7", "") == [7]
    # In the text only in brackets: "as in RD-3" is new work that mentions an old item.
    assert referenced_items("New batch", "Like last time (as in RD-3).") == []
    assert referenced_items("New batch", "Reference: [RD-3]") == [3]


def test_only_the_new_part_of_a_reply_is_kept() -> None:
    gmail = "Yes, go ahead.\n\nOn Tue, 3 Mar 2026 at 09:13, Morgan <m@alpha.test>\nwrote:\n> Old"
    outlook = "Done.\n\n________________________________\nFrom: Morgan\nSent: Monday\n\nOld"
    bottom_quote = "Agreed.\n> earlier text\n>"
    assert strip_quoted_reply(gmail) == "Yes, go ahead."
    assert strip_quoted_reply(outlook) == "Done."
    assert strip_quoted_reply(bottom_quote) == "Agreed."
    # Inline answers between quoted lines stay, and a reply that is all quote is kept whole.
    inline = "> Can you do it?\nYes.\n> By Friday?\nThursday."
    assert strip_quoted_reply(inline) == inline
    assert strip_quoted_reply("> only a quote") == "> only a quote"


def test_html_keeps_its_words_and_links_but_no_markup_scripts_or_styles() -> None:
    text = html_to_text(
        "<style>b{}</style><p>Hello&nbsp;<b>team</b></p><script>alert(1)</script>"
        "<p>See <a href='https://x.test/a'>the file</a> and <a href='javascript:x'>this</a></p>"
    )
    assert text == "Hello team\n\nSee the file (https://x.test/a) and this"


def test_headers_that_cannot_be_read_still_give_a_listing() -> None:
    assert headline(b"\x00\xff garbage without headers").sender == ""
    head = headline(message("unknown-sender"))
    assert (head.sender, head.subject) == ("sam@stranger.example", "Please process my claim")
    assert head.recipients == ("alpha-claims@intake.relaydesk.test",)


def test_a_forwarded_message_is_kept_as_a_file() -> None:
    inner = message("plain")
    raw = (
        b"From: admin@alpha.test\r\nTo: alpha-claims@intake.relaydesk.test\r\n"
        b"Subject: Fwd: claims\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
        b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b1--\r\n"
    )

    mail = parse_mail(raw)

    assert mail.text == "See below."
    assert [(p.filename, p.content_type) for p in mail.attachments] == [
        ("message-1.eml", "message/rfc822")
    ]
    assert b"Key the March PIP claim forms" in mail.attachments[0].data
