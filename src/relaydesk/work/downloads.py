"""Serving attachment files safely, for pages and the API alike."""

from __future__ import annotations

from django.http import FileResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from relaydesk.accounts.models import User
from relaydesk.errors import Gone
from relaydesk.vault.actions import CannotDecrypt, do_record_decrypt_failure, plaintext_of
from relaydesk.work.actions import do_record_download
from relaydesk.work.models import Attachment


def attachment_response(user: User, attachment: Attachment, source_ip: str | None) -> FileResponse:
    """Decrypt and stream the file as a download that the browser will never render inline.

    The whole file is authenticated before the first byte is sent; a file that
    fails (altered, swapped between attachments or clients, or the wrong master
    key) is refused with :class:`CannotDecrypt` (409) and an audit record. A file
    deleted under the engagement's retention is :class:`Gone` (410).
    """
    if attachment.purged_at is not None:
        day = timezone.localdate(attachment.purged_at)
        raise Gone(
            f"This file was deleted on {day:%Y-%m-%d} under the engagement's retention policy."
        )
    try:
        plaintext = plaintext_of(attachment)
    except CannotDecrypt as refusal:
        do_record_decrypt_failure(user, attachment, refusal.reason, source_ip=source_ip)
        raise
    do_record_download(user, attachment, source_ip=source_ip)
    response = FileResponse(plaintext, content_type="application/octet-stream")
    # FileResponse's own header: quoted for plain ASCII names, RFC 5987 otherwise.
    disposition = content_disposition_header(True, attachment.original_name) or "attachment"
    response["Content-Disposition"] = disposition
    response["Content-Length"] = str(attachment.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
