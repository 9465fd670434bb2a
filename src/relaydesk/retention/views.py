"""The client's data export, in the portal (client admins)."""

from __future__ import annotations

import tempfile
from typing import cast

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from relaydesk.accounts.models import User
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.core.roles import CLIENT_ROLES
from relaydesk.errors import ActionRefused
from relaydesk.permissions import roles_required
from relaydesk.retention.actions import do_export_client
from relaydesk.retention.queries import export_contents
from relaydesk.web import client_ip

# The portal serves a client's own people; provider admins export with `relaydesk export-client`.
EXPORTERS = sorted(roles_with(Permission.EXPORT_CLIENT_DATA) & CLIENT_ROLES)

# Exports up to this size are assembled in memory, larger ones in an unnamed temporary file.
IN_MEMORY_BYTES = 16 * 1024 * 1024


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@roles_required(*EXPORTERS)
@require_http_methods(["GET", "POST"])
def portal_export(request: HttpRequest) -> HttpResponse:
    """GET: what an export holds and about how large it is. POST: the ZIP, as a download."""
    user = _user(request)
    client = user.client
    assert client is not None
    if request.method == "POST":
        out = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)  # noqa: SIM115 - the response closes it
        try:
            result = do_export_client(user, client, destination=out, source_ip=client_ip(request))
        except ActionRefused as refusal:
            out.close()
            context = {"contents": export_contents(client), "error": refusal.message}
            return render(request, "retention/portal_export.html", context, status=refusal.status)
        out.seek(0)
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = FileResponse(
            out,
            as_attachment=True,
            filename=f"relaydesk-{client.slug}-{stamp}.zip",
            content_type="application/zip",
        )
        response["Content-Length"] = str(result.size)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        # The page guard is typed for HttpResponse; a streamed file goes out the same way.
        return cast(HttpResponse, response)
    return render(request, "retention/portal_export.html", {"contents": export_contents(client)})
