"""What an uploaded file really is, judged by its bytes rather than its name; no Django.

:func:`sniff` reads a seekable binary stream and returns a :class:`Sniffed`:
the *kind* a service may accept (``pdf``, ``image``, ``office``, ``text``,
``email``) or ``None`` for what is never stored (executables, scripts, HTML and
SVG, archives, macro-enabled or legacy Office files, anything unrecognised).
:func:`check_content` adds the service's allow-list and raises
:class:`ContentRefused` with a sentence naming what the file really is.

Binary formats are recognised by their signatures (the ``filetype`` package),
Office files by opening the ZIP and finding the main part, e-mail by its
RFC 5322 header block, text by decoding as UTF-8 without NUL bytes.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

import filetype

__all__ = [
    "KINDS",
    "KIND_LABELS",
    "ContentRefused",
    "Sniffed",
    "accepted_phrase",
    "check_content",
    "sniff",
]

KINDS = ("pdf", "image", "office", "text", "email")
KIND_LABELS = {
    "pdf": "PDFs",
    "image": "images (PNG, JPEG, TIFF, GIF)",
    "office": "Word, Excel and PowerPoint files (.docx, .xlsx, .pptx)",
    "text": "plain text and CSV (UTF-8)",
    "email": "e-mail messages (.eml)",
}
_HEAD_BYTES = 8192
_CHUNK = 64 * 1024


class Stream(Protocol):
    """A seekable binary file: an open file, ``io.BytesIO``, a Django ``UploadedFile``."""

    def read(self, size: int = ..., /) -> bytes: ...

    def seek(self, offset: int, whence: int = ..., /) -> int: ...

    def tell(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What a file is: the kind a service may allow (None: never stored), a format
    code, a phrase for messages ("a PNG image") and the MIME type to record."""

    kind: str | None
    format: str
    label: str
    mime: str = "application/octet-stream"


class ContentRefused(Exception):
    """The file is not stored; ``message`` says what it really is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_IMAGES = {
    "png": ("a PNG image", "image/png"),
    "jpg": ("a JPEG image", "image/jpeg"),
    "gif": ("a GIF image", "image/gif"),
    "tif": ("a TIFF image", "image/tiff"),
}
_OFFICE_PARTS = {
    "word/document.xml": (
        "docx",
        "a Word document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xl/workbook.xml": (
        "xlsx",
        "an Excel workbook",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "ppt/presentation.xml": (
        "pptx",
        "a PowerPoint presentation",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
}
# What a name's extension claims the file is: (format, phrase).
_CLAIMS = {
    ".pdf": ("pdf", "a PDF"),
    ".png": ("png", "a PNG image"),
    ".jpg": ("jpg", "a JPEG image"),
    ".jpeg": ("jpg", "a JPEG image"),
    ".gif": ("gif", "a GIF image"),
    ".tif": ("tif", "a TIFF image"),
    ".tiff": ("tif", "a TIFF image"),
    ".docx": ("docx", "a Word document"),
    ".xlsx": ("xlsx", "an Excel workbook"),
    ".pptx": ("pptx", "a PowerPoint presentation"),
    ".txt": ("text", "a text file"),
    ".csv": ("csv", "a CSV file"),
    ".eml": ("email", "an e-mail message"),
}
# Text that a browser or a shell would run, by extension: (format, phrase).
_ACTIVE_TEXT = {
    ".js": ("js", "a JavaScript file"),
    ".mjs": ("js", "a JavaScript file"),
    ".html": ("html", "an HTML page"),
    ".htm": ("html", "an HTML page"),
    ".xhtml": ("html", "an HTML page"),
    ".svg": ("svg", "an SVG image"),
    ".hta": ("hta", "an HTML application"),
    ".vbs": ("script", "a VBScript file"),
    ".ps1": ("script", "a PowerShell script"),
    ".bat": ("script", "a Windows batch script"),
    ".cmd": ("script", "a Windows batch script"),
    ".sh": ("script", "a shell script"),
}
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
# The WHATWG sniffing patterns for HTML, plus the tags that carry scripts.
_HTML_START = re.compile(
    rb"<(!doctype\s+html|html|head|body|script|iframe|h1|div|font|table|a|style|title|b|br|p"
    rb"|!--|object|embed|meta|link|form|img|svg|math)[\s>/]",
    re.IGNORECASE,
)
_ACTIVE_ANYWHERE = re.compile(rb"<(script|svg|iframe|html)[\s>/]|javascript:", re.IGNORECASE)
_ACTIVE_MARKS = (b"<script", b"<svg", b"<iframe", b"<html", b"javascript:")
_HEADER_LINE = re.compile(rb"^([!-9;-~]+):[ \t]?(.*)$")
_MAIL_HEADERS = {b"date", b"subject", b"to", b"message-id", b"received", b"mime-version"}


def _refused(fmt: str, label: str) -> Sniffed:
    return Sniffed(None, fmt, label)


def sniff(stream: Stream) -> Sniffed:
    """Identify the file in ``stream`` (read from the start; left at the start)."""
    stream.seek(0)
    head = stream.read(_HEAD_BYTES)
    stream.seek(0)
    try:
        return _sniff(stream, head)
    finally:
        stream.seek(0)


def _sniff(stream: Stream, head: bytes) -> Sniffed:
    if head.startswith(b"MZ"):
        return _refused("exe", "a Windows executable")
    if head.startswith(b"\x7fELF"):
        return _refused("elf", "a Linux executable (ELF)")
    if head[:4] in _MACHO:
        return _refused("macho", "a macOS executable (Mach-O)")
    if head.startswith(b"\xca\xfe\xba\xbe"):
        return _refused("macho", "a macOS universal executable or Java class")
    if head.startswith(b"#!"):
        return _refused("script", "a script (it starts with #!)")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _refused(
            "ole", "a legacy Office file (.doc, .xls or .ppt; save it as .docx, .xlsx or .pptx)"
        )
    guess = filetype.guess(head) if head else None
    if guess is not None:
        return _binary(stream, head, guess.extension, guess.mime)
    return _textual(stream, head)


def _binary(stream: Stream, head: bytes, extension: str, mime: str) -> Sniffed:
    if extension == "pdf":
        return Sniffed("pdf", "pdf", "a PDF", "application/pdf")
    if extension in _IMAGES:
        label, image_mime = _IMAGES[extension]
        return Sniffed("image", extension, label, image_mime)
    if head.startswith(b"PK\x03\x04"):
        return _zip(stream)
    if extension == "rtf":
        return _refused("rtf", "an RTF document (it can embed objects)")
    if mime.startswith("image/"):
        return _refused(extension, f"a {extension.upper()} image, which is not accepted")
    kinds = {"zip", "tar", "rar", "gz", "bz2", "7z", "xz", "zst", "lz", "lz4", "lzo", "Z", "cab"}
    if extension in kinds or extension in {"deb", "rpm", "ar", "crx", "epub"}:
        return _refused(extension, f"an archive ({extension.upper()})")
    return _refused(extension, f"a {extension.upper()} file ({mime})")


def _zip(stream: Stream) -> Sniffed:
    """An Office Open XML file without macros, or else an archive."""
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
            content_types = (
                archive.read("[Content_Types].xml")[:200_000]
                if "[Content_Types].xml" in names
                else b""
            )
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError):
        return _refused("zip", "a damaged ZIP archive")
    lower = {name.lower() for name in names}
    if content_types:
        if any(name.endswith("vbaproject.bin") for name in lower) or (
            b"macroenabled" in content_types.lower()
        ):
            return _refused("macro", "a macro-enabled Office document")
        for part, (fmt, label, mime) in _OFFICE_PARTS.items():
            if part in names:
                return Sniffed("office", fmt, label, mime)
    if "mimetype" in names and any(n.startswith("meta-inf/") for n in lower):
        return _refused("odf", "an OpenDocument or EPUB file, which is not accepted")
    return _refused("zip", "an archive (ZIP)")


def _textual(stream: Stream, head: bytes) -> Sniffed:
    if b"\x00" in head:
        return _refused("binary", "a binary file of a type Relaydesk does not recognise")
    body = head.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n\x0c")
    if _HTML_START.match(body) or (
        body.startswith(b"<?xml") and re.search(rb"<(svg|html)[\s>]", body, re.IGNORECASE)
    ):
        svg = re.search(rb"<svg[\s>]", body[:2048], re.IGNORECASE) and not re.search(
            rb"<html", body[:2048], re.IGNORECASE
        )
        return _refused("svg", "an SVG image") if svg else _refused("html", "an HTML page")
    if _looks_like_email(body):
        # Mail carries HTML parts by nature; it is read in a mail program, not a browser.
        if not _no_nul(stream):
            return _refused("binary", "a binary file of a type Relaydesk does not recognise")
        return Sniffed("email", "email", "an e-mail message", "message/rfc822")
    outcome = _utf8_without_nul(stream)
    if outcome == "nul":
        return _refused("binary", "a binary file of a type Relaydesk does not recognise")
    if outcome == "active":
        return _refused("html", "a file with web page markup or script")
    if outcome == "not-utf8":
        return _refused(
            "binary", "not UTF-8 text nor a known document type (save text files as UTF-8)"
        )
    return Sniffed("text", "text", "a text file", "text/plain")


def _looks_like_email(body: bytes) -> bool:
    """An RFC 5322 header block: 'Name: value' lines up to a blank line, with From and one
    more of the usual headers."""
    seen: set[bytes] = set()
    lines = body.split(b"\n")
    for line in lines[:200]:
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t") and seen:
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        seen.add(match.group(1).lower())
    else:
        if len(lines) > 200:
            return False
    return b"from" in seen and bool(seen & _MAIL_HEADERS)


def _chunks(stream: Stream) -> Iterable[bytes]:
    stream.seek(0)
    while chunk := stream.read(_CHUNK):
        yield chunk


def _no_nul(stream: Stream) -> bool:
    return all(b"\x00" not in chunk for chunk in _chunks(stream))


def _utf8_without_nul(stream: Stream) -> str:
    """'ok', or why not: 'nul', 'not-utf8', or 'active' (script or page markup inside)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    active = False
    tail = b""
    try:
        for chunk in _chunks(stream):
            if b"\x00" in chunk:
                return "nul"
            decoder.decode(chunk)
            if not active:
                window = (tail + chunk).lower()
                active = any(mark in window for mark in _ACTIVE_MARKS) and bool(
                    _ACTIVE_ANYWHERE.search(window)
                )
            tail = chunk[-16:]
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "not-utf8"
    return "active" if active else "ok"


def _claim(name: str) -> tuple[str, str] | None:
    suffix = PurePosixPath(name.lower()).suffix
    return _CLAIMS.get(suffix) or _ACTIVE_TEXT.get(suffix)


def accepted_phrase(allowed: Iterable[str]) -> str:
    """The allow-list as a person reads it: "PDFs, images (...) and plain text ..."."""
    labels = [KIND_LABELS[kind] for kind in KINDS if kind in set(allowed)]
    if not labels:
        return "no files"
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def check_content(
    stream: Stream, name: str, allowed: Iterable[str], *, service: str = "this service"
) -> Sniffed:
    """Sniff the file and check it against ``allowed`` kinds; raise :class:`ContentRefused`.

    The message names what the file really is, and what its name claims when the
    two differ: "The file 'bill.pdf' is a Windows executable, not a PDF; it was
    not stored."
    """
    found = sniff(stream)
    suffix = PurePosixPath(name.lower()).suffix
    if found.kind == "text" and suffix in _ACTIVE_TEXT:
        found = _refused(*_ACTIVE_TEXT[suffix])
    claim = _claim(name)
    if found.kind == "text" and claim and claim[0] == "csv":
        found = Sniffed("text", "csv", "a CSV file", "text/csv")
    differs = claim is not None and claim[0] != found.format
    not_claimed = f", not {claim[1]}" if claim is not None and differs else ""
    if found.kind is None:
        raise ContentRefused(f"The file '{name}' is {found.label}{not_claimed}; it was not stored.")
    allowed = set(allowed)
    if found.kind not in allowed:
        raise ContentRefused(
            f"The file '{name}' is {found.label}{not_claimed}; {service} accepts "
            f"{accepted_phrase(allowed)}, so it was not stored."
        )
    return found
