"""Upload content checks: what a file is, judged by its bytes, against a service's allow-list."""

from __future__ import annotations

import io
import zipfile

import pytest

from relaydesk.vault.sniff import ContentRefused, check_content, sniff

ALL = ["pdf", "image", "office", "text", "email"]


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


DOCX = _zip(
    {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types></Types>',
        "_rels/.rels": b"<Relationships/>",
        "word/document.xml": b"<w:document/>",
    }
)
DOCM = _zip(
    {
        "[Content_Types].xml": (
            b"<Types>application/vnd.ms-word.document.macroEnabled.main+xml</Types>"
        ),
        "word/document.xml": b"<w:document/>",
        "word/vbaProject.bin": b"\xd0\xcf\x11\xe0",
    }
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
EML = (
    b"From: Adjuster <adj@carrier.test>\r\nTo: clerk@firm.test\r\nSubject: PIP claim\r\n"
    b"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nContent-Type: text/html\r\n\r\n"
    b"<html><body>Please see the attached ledger.</body></html>\r\n"
)


@pytest.mark.parametrize(
    ("name", "data", "kind", "mime"),
    [
        ("claim.pdf", b"%PDF-1.4 claim", "pdf", "application/pdf"),
        ("scan.png", PNG, "image", "image/png"),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40, "image", "image/jpeg"),
        ("scan.tif", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 40, "image", "image/tiff"),
        ("anim.gif", b"GIF89a" + b"\x00" * 40, "image", "image/gif"),
        ("brief.docx", DOCX, "office", "application/vnd.openxmlformats-officedocument."),
        ("notes.txt", "Überweisung für Müller — 10 €\n".encode(), "text", "text/plain"),
        ("rows.csv", b"employee_id,hours\n10400,80.0\n", "text", "text/csv"),
        ("mail.eml", EML, "email", "message/rfc822"),
    ],
)
def test_documents_are_recognised_by_content(name: str, data: bytes, kind: str, mime: str) -> None:
    found = check_content(io.BytesIO(data), name, ALL)
    assert found.kind == kind
    assert found.mime.startswith(mime)


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("bill.pdf", b"MZ\x90\x00" + b"\x00" * 60, "is a Windows executable, not a PDF"),
        (
            "bill.pdf",
            b"\x7fELF\x02\x01\x01" + b"\x00" * 60,
            "is a Linux executable (ELF), not a PDF",
        ),
        (
            "tool.png",
            b"\xcf\xfa\xed\xfe" + b"\x00" * 60,
            "is a macOS executable (Mach-O), not a PNG",
        ),
        ("notes.txt", b"#!/bin/sh\nrm -rf ~\n", "is a script (it starts with #!), not a text file"),
        (
            "bill.pdf",
            b"<!DOCTYPE html><html><script>alert(1)</script>",
            "is an HTML page, not a PDF",
        ),
        (
            "logo.png",
            b'<?xml version="1.0"?>\n<svg xmlns="x" onload="alert(1)">',
            "is an SVG image",
        ),
        (
            "readme.txt",
            b"hello\n" * 3 + b"<script>fetch('/x')</script>",
            "web page markup or script",
        ),
        ("app.js", b"document.cookie = 'x';\n", "is a JavaScript file"),
        ("bundle.pdf", _zip({"a.txt": b"x"}), "is an archive (ZIP), not a PDF"),
        ("brief.docx", DOCM, "is a macro-enabled Office document"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "legacy Office file"),
        ("data.gz", b"\x1f\x8b\x08" + b"\x00" * 40, "is an archive (GZ)"),
        ("latin1.csv", "Müller;10\n".encode("latin-1"), "not UTF-8 text"),
        (
            "blob.bin",
            b"\x00\x01\x02\x03" * 10,
            "binary file of a type Relaydesk does not recognise",
        ),
    ],
)
def test_hostile_or_unknown_files_are_refused_saying_what_they_are(
    name: str, data: bytes, says: str
) -> None:
    with pytest.raises(ContentRefused) as refused:
        check_content(io.BytesIO(data), name, ALL)
    assert says in refused.value.message
    assert refused.value.message.startswith(f"The file '{name}' is ")
    assert refused.value.message.endswith("it was not stored.")


def test_the_exact_sentence_for_an_executable_posing_as_a_pdf() -> None:
    with pytest.raises(ContentRefused) as refused:
        check_content(io.BytesIO(b"MZ" + b"\x00" * 100), "bill.pdf", ALL)
    assert refused.value.message == (
        "The file 'bill.pdf' is a Windows executable, not a PDF; it was not stored."
    )


def test_a_kind_the_service_does_not_take_is_refused_naming_what_it_takes() -> None:
    with pytest.raises(ContentRefused) as refused:
        check_content(io.BytesIO(PNG), "scan.png", ["pdf", "text"], service="the service 'Payroll'")
    assert refused.value.message == (
        "The file 'scan.png' is a PNG image; the service 'Payroll' accepts PDFs and plain text "
        "and CSV (UTF-8), so it was not stored."
    )


def test_sniffing_leaves_the_stream_at_the_start() -> None:
    stream = io.BytesIO(DOCX)
    stream.seek(10)
    assert sniff(stream).kind == "office"
    assert stream.tell() == 0
