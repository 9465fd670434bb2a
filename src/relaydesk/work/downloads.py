"""Serving attachment files safely, for pages and the API alike."""

from __future__ import annotations

from django.http import FileResponse

from relaydesk.accounts.models import User
from relaydesk.work.actions import do_record_download
from relaydesk.work.models import Attachment


def attachment_response(user: User, attachment: Attachment, source_ip: str | None) -> FileResponse:
    """Stream the file as a download that the browser will never render inline."""
    do_record_download(user, attachment, source_ip=source_ip)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
