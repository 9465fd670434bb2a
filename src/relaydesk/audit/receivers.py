"""Signal receivers that put sign-ins, sign-outs and back-office changes on the audit trail.

Connected in ``AuditConfig.ready()``. Passwords never reach a record: Django
hands failed sign-ins over with the password masked, and only the e-mail
address that was tried is kept (and only when it looks like one, in case a
password was typed into the e-mail field).
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import Model
from django.db.models.signals import post_save
from django.http import HttpRequest

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.clients.models import Client
from relaydesk.web import client_ip, current_request_ip

ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """``auth.login``: who signed in, from where."""
    record(
        actor=user,
        action="auth.login",
        obj=user,
        client=user.client_id,
        source_ip=_ip(request),
    )


def on_logged_out(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    """``auth.logout``, for a signed-in person only."""
    if user is None:
        return
    record(
        actor=user,
        action="auth.logout",
        obj=user,
        client=user.client_id,
        source_ip=_ip(request),
    )


def attempted_email(credentials: dict[str, Any]) -> str:
    """The e-mail address a failed sign-in tried, or a placeholder when it is not one."""
    raw = credentials.get("email") or credentials.get("username") or credentials.get("login")
    text = str(raw or "").strip().lower()
    local, _, domain = text.partition("@")
    if not local or "." not in domain or " " in text or len(text) > 254:
        return "(not an e-mail address)"
    return text


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """``auth.login_failed`` with the e-mail tried; on the account's client when it is known."""
    email = attempted_email(credentials)
    known = User.objects.filter(email=email).values_list("client_id", flat=True).first()
    record(
        actor=None,
        actor_label="anonymous",
        action="auth.login_failed",
        obj=None,
        client=known,
        source_ip=_ip(request),
        detail={"email": email},
    )


def _client_of(obj: Model | None) -> int | None:
    if isinstance(obj, Client):
        return obj.pk
    client_id = getattr(obj, "client_id", None)
    return client_id if isinstance(client_id, int) else None


def record_admin_entry(entry: LogEntry, obj: Model | None = None) -> None:
    """``admin.add`` / ``admin.change`` / ``admin.delete`` for one back-office log entry."""
    model = entry.content_type.model_class() if entry.content_type else None
    if obj is None and model is not None:
        obj = model._default_manager.filter(pk=entry.object_id).first()
    if obj is None and model is not None:
        obj = model(pk=entry.object_id)
    record(
        actor=entry.user,
        action=ADMIN_ACTIONS.get(entry.action_flag, "admin.change"),
        obj=obj,
        client=_client_of(obj),
        source_ip=current_request_ip(),
        at=entry.action_time,
        detail={
            "model": entry.content_type.natural_key()[1] if entry.content_type else "",
            "object": entry.object_repr,
            "change": entry.get_change_message(),
        },
    )


def on_admin_log_entry(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """A back-office add, change or delete of one object (bulk deletes: see admin.py)."""
    if created:
        record_admin_entry(instance)


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch uid)."""
    user_logged_in.connect(on_logged_in, dispatch_uid="audit.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit.login_failed")
    post_save.connect(on_admin_log_entry, sender=LogEntry, dispatch_uid="audit.admin")
