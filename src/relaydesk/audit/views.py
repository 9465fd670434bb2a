"""The client's view of its audit trail, in the portal."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from relaydesk.accounts.models import User
from relaydesk.audit import queries
from relaydesk.audit.actions import do_record_audit_export
from relaydesk.audit.export import csv_lines
from relaydesk.audit.forms import AuditFilterForm
from relaydesk.core.roles import Role
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _filtered(request: HttpRequest, user: User) -> tuple[AuditFilterForm, Any]:
    records = queries.visible_audit_records(user)
    form = AuditFilterForm(request.GET or None, records=records)
    form.is_valid()
    return form, queries.filter_records(records, **form.wanted())


def _summary(detail: dict[str, Any]) -> str:
    text = "; ".join(f"{key}: {value}" for key, value in detail.items() if value not in ("", None))
    return text if len(text) <= 160 else text[:159] + "…"


@roles_required(Role.CLIENT_ADMIN)
@require_GET
def portal_audit(request: HttpRequest) -> HttpResponse:
    """The client's audit trail, newest first, with filters and pages."""
    user = _user(request)
    form, records = _filtered(request, user)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    items = queries.linkable_items(user, page.object_list)
    rows = [
        {
            "record": r,
            "item": items.get(r.object_id) if r.object_type == "WorkItem" else None,
            "summary": _summary(r.detail),
        }
        for r in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/portal_audit.html",
        {
            "title": f"{user.client} audit trail",
            "form": form,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "zone": timezone.get_current_timezone_name(),
        },
    )


@roles_required(Role.CLIENT_ADMIN)
@require_GET
def portal_audit_export(request: HttpRequest) -> HttpResponse:
    """The filtered records as CSV, oldest first; the export is itself recorded."""
    user = _user(request)
    assert user.client is not None
    form, records = _filtered(request, user)
    export = do_record_audit_export(
        user,
        client=user.client,
        rows=records.count(),
        filters=form.as_text(),
        source_ip=client_ip(request),
    )
    # The file holds what was recorded before the export, not the export's own record.
    snapshot = records.filter(seq__lt=export.seq)
    response = StreamingHttpResponse(csv_lines(snapshot), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{user.client.slug}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response  # type: ignore[return-value]  # streamed: an HttpResponseBase
