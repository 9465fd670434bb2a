"""Reading one e-mail message: who sent it, to whom, what it says and what it carries.

Plain Python (the standard library's :mod:`email` package), no Django:
:func:`parse_mail` turns the raw bytes of a message into a :class:`ParsedMail`
or raises :class:`MailRefused` with a reason code and a sentence saying what
is wrong with it; :func:`headline` reads the few headers a quarantined message
is listed by and never fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.errors import (
    CloseBoundaryNotFoundDefect,
    InvalidBase64LengthDefect,
    MessageDefect,
    MissingHeaderBodySeparatorDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

__all__ = [
    "Headline",
    "MailPart",
    "MailRefused",
    "ParsedMail",
    "clean_subject",
    "client_reference",
    "dedupe_key",
    "headline",
    "html_to_text",
    "message_id_hash",
    "parse_mail",
    "referenced_items",
    "strip_quoted_reply",
]

# Reason codes (the same values as ``relaydesk.mailintake.models.Reason``).
UNPARSEABLE = "unparseable"
EMPTY = "empty"

# Structural defects that mean the parts cannot be trusted: a multipart without
# its boundaries, a message cut short, a header block broken by a stray line, an
# attachment whose base64 is cut off. Cosmetic defects (odd padding) are tolerated.
_FATAL_DEFECTS: dict[type[MessageDefect], str] = {
    NoBoundaryInMultipartDefect: "a multipart part has no boundary",
    StartBoundaryNotFoundDefect: "a multipart part's boundary never appears",
    CloseBoundaryNotFoundDefect: "the message is cut short (a multipart part is not closed)",
    MultipartInvariantViolationDefect: "a multipart part is not made of parts",
    MissingHeaderBodySeparatorDefect: "a line in the header block is not a header",
    InvalidBase64LengthDefect: "an attachment's base64 encoding is cut off",
}
_ID = re.compile(r"<([^<>\s]{1,500})>")
_REFERENCE = re.compile(r"\bRD-(\d{1,12})\b", re.IGNORECASE)
_BRACKETED_REFERENCE = re.compile(r"\[RD-(\d{1,12})\]", re.IGNORECASE)
# A client's own reference in brackets in a subject: "[MAT-2291]", "[HC-26-4471]", "[#4471]".
_CLIENT_REFERENCE = re.compile(r"\[\s*([A-Za-z0-9#][A-Za-z0-9#._/:-]{0,99})\s*\]")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|sv|wg|antw|tr|rv|vs)(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
TITLE_LIMIT = 200


class MailRefused(Exception):
    """The message cannot be filed; ``code`` says why for filters, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Headline:
    """What a message is listed by, read as well as its headers allow (never raises)."""

    sender: str
    recipients: tuple[str, ...]
    to: str
    subject: str
    message_id: str


@dataclass(frozen=True, slots=True)
class MailPart:
    """A file carried by a message; ``inline`` parts are pictures shown in the text."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """One message as intake needs it.

    ``recipients`` lists the delivery headers first (Delivered-To, X-Original-To,
    Envelope-To), then To and Cc; ``references`` are the Message-IDs of In-Reply-To
    and References; ``automatic`` says why the message was sent by a machine
    (an out-of-office reply, a bounce), empty for a person's message.
    """

    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    references: tuple[str, ...]
    sent_at: dt.datetime | None
    text: str
    attachments: tuple[MailPart, ...]
    automatic: str
    authentication_results: tuple[str, ...]

    @property
    def sender_domain(self) -> str:
        """The domain of the sender's address, lower-case."""
        return self.sender.rpartition("@")[2]


def _parse(raw: bytes, *, headersonly: bool = False) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw, headersonly=headersonly)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _header_text(message: Message, name: str) -> str:
    """A header's decoded text; the raw text if it cannot be decoded; '' if absent."""
    try:
        value = message.get(name)
        return "" if value is None else _one_line(str(value))
    except Exception:  # a header the library cannot decode is kept as it came
        raw = message.get_all(name, failobj=[])
        return _one_line(str(raw[0])) if raw else ""


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", _CONTROL.sub(" ", text.replace("\n", " "))).strip()


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) of every mailbox in the header(s) ``name``."""
    found: list[tuple[str, str]] = []
    for header in message.get_all(name, failobj=[]):
        try:
            parsed = getattr(header, "addresses", None)
            if parsed is not None:
                found += [(a.display_name, a.addr_spec.lower()) for a in parsed]
                continue
        except Exception:  # fall back to the lenient reading below
            pass
        found += [(n, a.lower()) for n, a in getaddresses([str(header)]) if a]
    return [(n, a) for n, a in found if _is_address(a)]


def _is_address(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(local and at and domain) and not any(c.isspace() for c in address)


_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def _recipients(message: Message) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in _RECIPIENT_HEADERS:
        for _, address in _addresses(message, name):
            seen.setdefault(address, None)
    return tuple(seen)


def _message_id(message: Message) -> str:
    text = _header_text(message, "Message-ID")
    found = _ID.search(text)
    return found.group(1) if found else text[:500]


def headline(raw: bytes) -> Headline:
    """The sender, recipients, subject and Message-ID of ``raw``, as far as they can be read."""
    try:
        message = _parse(raw, headersonly=True)
    except Exception:  # a quarantined message is listed even when unreadable
        return Headline(sender="", recipients=(), to="", subject="", message_id="")
    senders = _addresses(message, "From")
    to = ", ".join(filter(None, (_header_text(message, "To"), _header_text(message, "Cc"))))
    return Headline(
        sender=senders[0][1] if senders else _header_text(message, "From")[:320],
        recipients=_recipients(message),
        to=to[:1000],
        subject=_header_text(message, "Subject")[:300],
        message_id=_message_id(message),
    )


def message_id_hash(message_id: str) -> str:
    """The SHA-256 of a Message-ID (without angle brackets), as intake stores it."""
    return hashlib.sha256(message_id.strip().strip("<>").encode()).hexdigest()


def dedupe_key(raw: bytes, head: Headline) -> str:
    """What makes a message the same message again: its Message-ID and sender, else its bytes.

    The sender is part of the key so that a forged message reusing somebody
    else's Message-ID cannot make their real message look like a repeat.
    """
    if head.message_id:
        return hashlib.sha256(f"id|{head.message_id}|{head.sender}".encode()).hexdigest()
    return hashlib.sha256(b"raw|" + raw).hexdigest()


def parse_mail(raw: bytes) -> ParsedMail:
    """Read a whole message; :class:`MailRefused` says what makes it unusable."""
    if not raw.strip():
        raise MailRefused(EMPTY, "The message is empty.")
    try:
        message = _parse(raw)
    except Exception as problem:  # any parser failure is a reason, not a crash
        raise MailRefused(
            UNPARSEABLE, f"The message cannot be read ({type(problem).__name__})."
        ) from problem
    if not message.keys():
        raise MailRefused(UNPARSEABLE, "The message has no headers.")
    _check_structure(message)
    if len(message.get_all("From", failobj=[])) > 1:
        raise MailRefused(UNPARSEABLE, "The message has more than one From header.")
    senders = _addresses(message, "From")
    if not senders:
        raise MailRefused(UNPARSEABLE, "The message has no valid From address.")
    if len(senders) > 1:
        raise MailRefused(UNPARSEABLE, "The message names more than one sender in From.")
    sender_name, sender = senders[0]
    body = _body_part(message)
    text = _text_of(body) if body is not None else ""
    attachments = tuple(_attachments(message, body))
    references = _ID.findall(
        " ".join((_header_text(message, "In-Reply-To"), _header_text(message, "References")))
    )
    return ParsedMail(
        sender=sender,
        sender_name=_one_line(sender_name),
        recipients=_recipients(message),
        subject=_header_text(message, "Subject"),
        message_id=_message_id(message),
        references=tuple(dict.fromkeys(references)),
        sent_at=_sent_at(message),
        text=text,
        attachments=attachments,
        automatic=_automatic(message, sender),
        authentication_results=tuple(
            _one_line(str(h)) for h in message.get_all("Authentication-Results", failobj=[])
        ),
    )


def _check_structure(message: EmailMessage) -> None:
    # An attached message is a file like any other: its own defects are its own.
    for part in _walk(message):
        for defect in part.defects:
            for kind, sentence in _FATAL_DEFECTS.items():
                if isinstance(defect, kind):
                    raise MailRefused(UNPARSEABLE, f"The MIME structure is broken: {sentence}.")


def _walk(part: Message) -> Iterator[Message]:
    """Every part of ``part``; an attached message (message/rfc822) counts as one file."""
    yield part
    if part.get_content_type() == "message/rfc822":
        return
    if part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _walk(child)


def _body_part(message: EmailMessage) -> EmailMessage | None:
    try:
        found = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # an unusual structure has no body, not an error
        return None
    return found if isinstance(found, EmailMessage) else None


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know: keep what UTF-8 can read
        return payload.decode("utf-8", errors="replace")


def _text_of(part: Message) -> str:
    text = _decoded_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Normal line ends, no control characters, no trailing blanks, at most one empty line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text.replace("\t", "    "))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _attachments(message: EmailMessage, body: Message | None) -> Iterator[MailPart]:
    number = 0
    for part in _walk(message):
        if part is body or (part.is_multipart() and part.get_content_type() != "message/rfc822"):
            continue
        disposition = part.get_content_disposition()
        filename = _filename(part)
        content_type = part.get_content_type()
        if part.get_content_maintype() == "text" and disposition != "attachment" and not filename:
            continue  # another rendering of the text (the HTML beside the plain text)
        number += 1
        if content_type == "message/rfc822":
            inner = part.get_payload()
            attached = inner[0] if isinstance(inner, list) and inner else None
            data = attached.as_bytes() if isinstance(attached, Message) else b""
            filename = filename or f"message-{number}.eml"
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = filename or f"attachment-{number}"
        inline = disposition == "inline" or (disposition is None and bool(part.get("Content-ID")))
        yield MailPart(filename=filename, content_type=content_type, data=data, inline=inline)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # an undecodable name is replaced by a made-up one
        return ""
    return _one_line(name).replace("/", "_").replace("\\", "_")[:200]


def _sent_at(message: Message) -> dt.datetime | None:
    text = _header_text(message, "Date")
    if not text:
        return None
    try:
        sent = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" means the time zone is unknown: the time is read as UTC.
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=dt.UTC)


def _automatic(message: Message, sender: str) -> str:
    """Why the message was sent by a machine, or '' (RFC 3834 and common conventions)."""
    auto = _header_text(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"it was sent automatically (Auto-Submitted: {auto[:40]})"
    precedence = _header_text(message, "Precedence").lower()
    if precedence in {"bulk", "junk", "auto_reply"}:
        return f"it was sent automatically (Precedence: {precedence})"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "it is an automatic reply"
    if message.get_content_type() == "multipart/report":
        return "it is a delivery report"
    local = sender.partition("@")[0]
    if local in {"mailer-daemon", "postmaster"}:
        return f"it was sent by {local}"
    return ""


def clean_subject(subject: str) -> str:
    """An item's title from a subject: no Re:/Fwd: prefixes, one line, at most 200 characters."""
    text = _one_line(subject)
    while True:
        stripped = _REPLY_PREFIX.sub("", text)
        stripped = re.sub(r"^\[RD-\d{1,12}\]\s*", "", stripped, flags=re.IGNORECASE)
        if stripped == text:
            break
        text = stripped
    text = text.strip()
    if len(text) > TITLE_LIMIT:
        text = text[: TITLE_LIMIT - 1].rstrip() + "…"
    return text


def client_reference(subject: str) -> str:
    """The client's own reference a subject carries in brackets (``MAT-2291`` from
    "[MAT-2291] Demand letter"), or ''. It holds a digit, a letter or ``#``, and no
    space, so tags such as "[External]", "[1/3]" or "[2 of 3]" are not taken for one;
    ``RD-123`` is ours, not theirs."""
    for candidate in _CLIENT_REFERENCE.findall(_one_line(subject)):
        if (
            any(c.isdigit() for c in candidate)
            and any(c.isalpha() or c == "#" for c in candidate)
            and not _REFERENCE.fullmatch(candidate)
        ):
            return candidate
    return ""


def referenced_items(subject: str, text: str) -> list[int]:
    """Item numbers a reply names: any ``RD-123`` in the subject, then ``[RD-123]`` in the text.

    The text counts only in brackets: a new request that mentions an earlier item
    in passing ("as in RD-12") is still a new request.
    """
    found = [int(n) for n in _REFERENCE.findall(subject)]
    found += [int(n) for n in _BRACKETED_REFERENCE.findall(text)]
    return list(dict.fromkeys(found))


_QUOTE_START = (
    re.compile(r"^On\b.{0,300}\bwrote:$", re.IGNORECASE),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}$", re.IGNORECASE),
    re.compile(r"^-{2,}\s*Forwarded message\s*-{2,}$", re.IGNORECASE),
    re.compile(r"^Am\b.{0,300}\bschrieb.{0,80}:$", re.IGNORECASE),
    re.compile(r"^Le\b.{0,300}\ba écrit\s*:$", re.IGNORECASE),
)
_OUTLOOK_RULE = re.compile(r"^_{10,}$")


def strip_quoted_reply(text: str) -> str:
    """The new part of a reply: the text above the quoted earlier message.

    Cuts at the first "On … wrote:" line (also when a mail program wrapped it over
    two lines), an "Original Message" rule, or Outlook's rule followed by a From:
    line, then drops a trailing block of ``>`` lines. Returns ``text`` unchanged
    when nothing would be left.
    """
    lines = text.split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        joined = f"{stripped} {lines[index + 1].strip()}" if index + 1 < len(lines) else stripped
        if any(p.match(stripped) or p.match(joined) for p in _QUOTE_START):
            cut = index
            break
        following = " ".join(lines[index + 1 : index + 3])
        if _OUTLOOK_RULE.match(stripped) and "From:" in following:
            cut = index
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    result = "\n".join(kept).strip()
    return result or text


class _TextExtractor(HTMLParser):
    """Collects the readable text of an HTML document; scripts, styles and heads are dropped."""

    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "pre",
            "table",
            "tr",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif self._skipping:
            return
        elif tag == "br":
            self.pieces.append("\n")
        elif tag in self._BLOCK:
            self.pieces.append("\n\n" if tag == "p" else "\n")
        elif tag == "li":
            self.pieces.append("\n- ")
        elif tag in {"td", "th"}:
            self.pieces.append("\t")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._href = href if href.lower().startswith(("http://", "https://")) else None
            self._link_text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            return  # a self-closed <svg/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif self._skipping:
            return
        elif tag in self._BLOCK:
            self.pieces.append("\n")
        elif tag == "a" and self._href is not None:
            shown = "".join(self._link_text).strip()
            if self._href not in shown:
                self.pieces.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self.pieces.append(data)
        if self._href is not None:
            self._link_text.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML message: no markup, scripts or styles; links keep their
    address in brackets."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # whatever was read before the markup broke is kept
        pass
    text = "".join(extractor.pieces).replace("\xa0", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
