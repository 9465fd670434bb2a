"""Where messages come from: a Maildir on this machine, or an IMAP mailbox.

Each source yields :class:`Incoming` messages; the caller files one, and only
after its transaction has committed calls ``done()``, which marks it read in
its mailbox (Maildir: moved to ``cur/`` with the ``S`` flag; IMAP: ``\\Seen``).
A run that stops in between leaves the message unread, and the next run finds
it already taken in by its Message-ID, so nothing is filed twice.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "ENV_IMAP_PASSWORD",
    "ImapMailbox",
    "Incoming",
    "SourceError",
    "imap_messages",
    "maildir_messages",
    "parse_imap_url",
]

ENV_IMAP_PASSWORD = "RELAYDESK_IMAP_PASSWORD"
IMAP_TIMEOUT_SECONDS = 60


class SourceError(Exception):
    """The mailbox cannot be read; the message says what to fix (never a password)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One unread message: its bytes, where it was read from, and how to mark it read."""

    raw: bytes
    label: str
    done: Callable[[], None]


class _Unparsed(mailbox.MaildirMessage):
    """A Maildir message read as bytes only: its folder and flags, without parsing it."""

    raw = b""


def _unparsed(file: Any) -> mailbox.MaildirMessage:
    message = _Unparsed(None)
    message.raw = file.read()
    return message


def maildir_messages(path: str | Path) -> Iterator[Incoming]:
    """Every unread message of the Maildir at ``path``: all of ``new/``, and those in
    ``cur/`` without the seen (S) or trashed (T) flag."""
    root = Path(path)
    if not all((root / folder).is_dir() for folder in ("new", "cur", "tmp")):
        raise SourceError(f"{root} is not a Maildir (it needs new/, cur/ and tmp/ folders).")
    box = mailbox.Maildir(root, factory=_unparsed, create=False)
    order = _delivery_order(root, box.colon)
    for key in sorted(box.iterkeys(), key=lambda k: (order.get(k, 0), k)):
        try:
            message = box.get_message(key)
        except (KeyError, FileNotFoundError):
            continue  # moved away by another reader since the listing
        assert isinstance(message, _Unparsed)
        flags = set(message.get_flags())
        if message.get_subdir() == "cur" and flags & {"S", "T"}:
            continue
        yield Incoming(
            raw=message.raw,
            label=f"maildir {root}",
            done=_marker(root, key, message, box.colon),
        )


def _delivery_order(root: Path, colon: str) -> dict[str, int]:
    """Each message's file time, to take messages in the order they came (a reply after
    the request it answers)."""
    order: dict[str, int] = {}
    for folder in ("new", "cur"):
        with os.scandir(root / folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    order[entry.name.split(colon)[0]] = entry.stat().st_mtime_ns
    return order


def _marker(
    root: Path, key: str, message: mailbox.MaildirMessage, colon: str
) -> Callable[[], None]:
    def mark_seen() -> None:
        info = message.get_info()
        current = root / message.get_subdir() / (key + (colon + info if info else ""))
        flags = "".join(sorted(set(message.get_flags()) | {"S"}))
        # Gone already: another reader moved it; it was taken in once all the same.
        with contextlib.suppress(FileNotFoundError):
            os.rename(current, root / "cur" / f"{key}{colon}2,{flags}")

    return mark_seen


@dataclass(frozen=True, slots=True)
class ImapMailbox:
    """An IMAP mailbox to read: ``imaps://user@host[:port]/MAILBOX`` (TLS throughout) or
    ``imap://user@host[:port]/MAILBOX`` (STARTTLS required)."""

    host: str
    port: int
    user: str
    mailbox: str
    implicit_tls: bool

    def __str__(self) -> str:
        scheme = "imaps" if self.implicit_tls else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.mailbox}"


def parse_imap_url(url: str) -> ImapMailbox:
    """Read an IMAP URL; :class:`SourceError` says what is wrong with it.

    A password in the URL is refused: it would show in the process list and the
    shell history. It comes from ``RELAYDESK_IMAP_PASSWORD``.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"imaps", "imap"}:
        raise SourceError("An IMAP mailbox is given as imaps://USER@HOST/MAILBOX.")
    if parts.password is not None:
        raise SourceError(
            f"Leave the password out of the URL; put it in {ENV_IMAP_PASSWORD} instead."
        )
    if not parts.hostname or not parts.username:
        raise SourceError("The IMAP URL needs a user and a host: imaps://USER@HOST/MAILBOX.")
    try:
        port = parts.port
    except ValueError:
        raise SourceError("The port in the IMAP URL is not a number.") from None
    implicit_tls = parts.scheme == "imaps"
    return ImapMailbox(
        host=parts.hostname,
        port=port or (993 if implicit_tls else 143),
        user=unquote(parts.username),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        implicit_tls=implicit_tls,
    )


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _connect(where: ImapMailbox, password: str) -> imaplib.IMAP4:
    context = ssl.create_default_context()
    try:
        connection: imaplib.IMAP4
        if where.implicit_tls:
            connection = imaplib.IMAP4_SSL(
                where.host, where.port, ssl_context=context, timeout=IMAP_TIMEOUT_SECONDS
            )
        else:
            connection = imaplib.IMAP4(where.host, where.port, timeout=IMAP_TIMEOUT_SECONDS)
            # Never a password over plain text: STARTTLS or nothing.
            connection.starttls(ssl_context=context)
        connection.login(where.user, password)
        status, _ = connection.select(_quoted(where.mailbox))
    except (OSError, imaplib.IMAP4.error) as problem:
        raise SourceError(f"Cannot read {where}: {_said(problem)}") from None
    if status != "OK":
        raise SourceError(f"Cannot open the mailbox {where.mailbox!r} on {where.host}.")
    return connection


def _said(problem: BaseException) -> str:
    text = str(problem.args[0] if problem.args else problem)
    if isinstance(problem.args[0] if problem.args else None, bytes):
        text = problem.args[0].decode(errors="replace")
    return re.sub(r"\s+", " ", text).strip()[:200] or type(problem).__name__


def imap_messages(where: ImapMailbox, password: str) -> Iterator[Incoming]:
    """Every UNSEEN message of the mailbox, fetched without marking it (BODY.PEEK[]);
    ``done()`` sets ``\\Seen`` once the message is filed."""
    connection = _connect(where, password)
    try:
        status, found = connection.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise SourceError(f"The server refused to list unread messages in {where}.")
        for uid in (found[0] or b"").split():
            yield Incoming(
                raw=_fetch(connection, uid),
                label=f"imap {where}",
                done=_seen_marker(connection, uid),
            )
    except (OSError, imaplib.IMAP4.error) as problem:
        raise SourceError(f"Lost the connection to {where}: {_said(problem)}") from None
    finally:
        _close(connection)


def _fetch(connection: imaplib.IMAP4, uid: bytes) -> bytes:
    status, data = connection.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
    if status != "OK":
        raise SourceError(f"The server refused to send message UID {uid.decode()}.")
    for piece in data:
        if isinstance(piece, tuple) and len(piece) == 2:
            return bytes(piece[1])
    raise SourceError(f"The server sent no content for message UID {uid.decode()}.")


def _seen_marker(connection: imaplib.IMAP4, uid: bytes) -> Callable[[], None]:
    def mark_seen() -> None:
        try:
            status, _ = connection.uid("STORE", uid.decode(), "+FLAGS.SILENT", r"(\Seen)")
        except (OSError, imaplib.IMAP4.error) as problem:
            status = _said(problem)
        if status != "OK":
            # Filed already: the next run finds it taken in, so nothing is filed twice.
            raise SourceError(
                f"Message UID {uid.decode()} was filed but not marked read ({status})."
            )

    return mark_seen


def _close(connection: Any) -> None:
    for step in (connection.close, connection.logout):
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            step()
