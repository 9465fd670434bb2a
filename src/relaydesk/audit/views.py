"""The client's view of its audit trail, in the portal."""

from __future__ import annotations

from typing import Any, cast

from django import forms
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
from relaydesk.core.lifecycle import State
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.core.roles import Role
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip
from relaydesk.work.queries import visible_work_items

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


# What each recorded action means, as the client reads it; the code stays in the CSV export.
ACTION_LABELS = {
    "auth.login": "Signed in",
    "auth.login_failed": "Failed sign-in",
    "auth.logout": "Signed out",
    "user.create": "Account created",
    "work_item.submit": "Request submitted",
    "work_item.import": "Requests imported",
    "work_item.queue": "Queued",
    "work_item.assign": "Assigned",
    "work_item.take": "Taken",
    "work_item.release": "Released",
    "work_item.start": "Work started",
    "work_item.wait_on_client": "Waiting on client",
    "work_item.resume": "Resumed",
    "work_item.complete": "Completed",
    "work_item.approve": "Approved in review",
    "work_item.return_for_rework": "Returned for rework",
    "work_item.request_rework": "Rework requested",
    "work_item.accept": "Accepted",
    "work_item.cancel": "Cancelled",
    "comment.add": "Comment added",
    "attachment.add": "File attached",
    "attachment.download": "File downloaded",
    "attachment.decrypt_failed": "File could not be decrypted",
    "sensitive.reveal": "Confidential detail revealed",
    "client.require_mfa": "Sign-in rule changed",
    "client.export": "Data exported",
    "audit.export": "Audit trail exported",
    "figures.export": "Figures exported",
    "attachment.encrypt_legacy": "Stored file encrypted",
    "api_token.create": "API token created",
    "api_token.revoke": "API token revoked",
    "permission.denied": "Access refused",
    "mfa.demo_enroll": "Demo authenticator set up",
    "retention.purge": "Deleted under retention",
    "retention.purge_run": "Retention run",
    "vault.data_key.create": "Encryption key created",
    "vault.keys.rotate": "Encryption keys rotated",
    "admin.add": "Added in the back office",
    "admin.change": "Changed in the back office",
    "admin.delete": "Deleted in the back office",
}
OBJECT_LABELS = {
    "User": "Account",
    "Comment": "Comment",
    "Attachment": "File",
    "ApiToken": "API token",
    "Authenticator": "Authenticator",
    "ClientDataKey": "Encryption key",
    "Client": "Firm",
}


def action_label(action: str) -> str:
    """An action code as a person reads it: "work_item.submit" -> "Request submitted"."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return action.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _value(key: str, value: Any) -> str:
    """One detail value in words: states, roles and slugs lose their underscores."""
    if key == "role":
        try:
            return Role(value).label
        except ValueError:
            pass
    if key in ("from", "to"):  # work-item states
        try:
            return State(value).label
        except ValueError:
            pass
    if key == "service" and isinstance(value, str):
        return value.replace("-", " ").capitalize()
    if key == "visibility":
        return {"client": "shared with your firm", "internal": "provider only"}.get(
            str(value), str(value)
        )
    return str(value)


def _summary(detail: dict[str, Any]) -> str:
    wanted = {key: value for key, value in detail.items() if value not in ("", None)}
    parts = []
    if "from" in wanted and "to" in wanted:
        parts.append(f"{_value('from', wanted.pop('from'))} → {_value('to', wanted.pop('to'))}")
    # The item is shown in its own column.
    wanted.pop("item", None)
    if "path" in wanted:
        parts.append(f"{wanted.pop('method', '')} {wanted.pop('path')}".strip())
    # Sentences read best without their key.
    parts += [str(wanted.pop(key)) for key in ("reason", "note") if key in wanted]
    parts += [
        f"{key.replace('_', ' ').capitalize()}: {_value(key, value)}"
        for key, value in wanted.items()
    ]
    text = "; ".join(parts)
    return text if len(text) <= 160 else text[:159] + "…"


def _who(label: str) -> tuple[str, str]:
    """The actor label "Name <e-mail>" split into the name and the address."""
    name, _, rest = label.partition(" <")
    return (name, rest.rstrip(">")) if rest else (label, "")


def _ints(values: set[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


def _object_text(record: Any, people: dict[str, str]) -> str:
    """What a record is about, when it is not a work item: "Account: Paul Okafor"."""
    if not record.object_type or record.object_type == "WorkItem":
        return ""
    kind = OBJECT_LABELS.get(record.object_type, record.object_type)
    if record.object_type == "User" and record.object_id == str(record.actor_id):
        return ""  # a person's own sign-in: the Who column says it all
    if record.object_type == "User" and record.object_id in people:
        return f"{kind}: {people[record.object_id]}"
    return f"{kind} #{record.object_id}" if record.object_id else kind


def _label_actions(form: AuditFilterForm) -> None:
    """Show the action filter's choices in words; their values stay the codes."""
    field = form.fields["action"]
    assert isinstance(field, forms.ChoiceField)
    current = cast(list[tuple[str, str]], field.choices)
    field.choices = [(code, action_label(code) if code else label) for code, label in current]


@roles_required(*roles_with(Permission.VIEW_CLIENT_AUDIT))
@require_GET
def portal_audit(request: HttpRequest) -> HttpResponse:
    """The client's audit trail, newest first, with filters and pages."""
    user = _user(request)
    form, records = _filtered(request, user)
    _label_actions(form)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    items = queries.linkable_items(user, page.object_list)
    # Comments name their item in the detail: link it too, when the reader may open it.
    about = {str(r.detail.get("item")) for r in page.object_list if r.detail.get("item")}
    items.update({str(i.pk): i for i in visible_work_items(user).filter(pk__in=_ints(about))})
    assert user.client is not None  # a client admin always has one
    people = {
        str(person.pk): person.get_full_name()
        for person in user.client.users.filter(
            pk__in=_ints({r.object_id for r in page.object_list if r.object_type == "User"})
        )
    }
    rows = []
    for r in page.object_list:
        name, email = _who(r.actor_label)
        item_id = r.object_id if r.object_type == "WorkItem" else str(r.detail.get("item", ""))
        rows.append(
            {
                "record": r,
                "label": action_label(r.action),
                "who": name,
                "email": email,
                "item": items.get(item_id),
                "object": _object_text(r, people),
                "summary": _summary(r.detail),
            }
        )
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
            "filtered": bool(query),
        },
    )


@roles_required(*roles_with(Permission.VIEW_CLIENT_AUDIT))
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
