"""Writing the audit trail: append a chained record, and the few actions the audit app owns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.chain import GENESIS, canonical_detail, canonical_ip, record_hash
from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Client
from relaydesk.core.roles import Role
from relaydesk.errors import NotAllowed
from relaydesk.tenancy import rowsecurity

# pg_advisory_xact_lock key that serialises writers of the chain ("RDAUDIT" in ASCII).
CHAIN_LOCK = 0x52444155444954


def _lock_chain() -> None:
    """Serialise chain writers until the surrounding transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite: the connection opens
    every transaction with BEGIN IMMEDIATE (see settings), so the writer lock is
    already held and nothing more is needed.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record(
    *,
    actor: User | None,
    action: str,
    obj: Any,
    client: Client | int | None = None,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    actor_label: str | None = None,
) -> AuditRecord:
    """Append one audit record; call inside the action's transaction.

    The record is numbered and chained to the last one under a lock held until
    the caller's transaction ends, so concurrent writers queue instead of
    forking the chain. ``actor_label`` overrides the label for records without
    an actor (e.g. ``anonymous`` for a failed sign-in).
    """
    client_id = client.pk if isinstance(client, Client) else client
    fields: dict[str, Any] = {
        "at": at or timezone.now(),
        "actor_id": actor.pk if actor else None,
        "actor_label": _clip(actor_label or (str(actor) if actor else "system"), 200),
        "action": _clip(action, 64),
        "object_type": _clip(type(obj).__name__ if obj is not None else "", 64),
        "object_id": _clip(str(getattr(obj, "pk", "") or ""), 64),
        "client_id": client_id,
        "source_ip": canonical_ip(source_ip),
        "detail": canonical_detail(detail),
    }
    # Its own transaction when called outside one (sign-in receivers); else the caller's.
    with transaction.atomic(savepoint=False):
        # The chain runs across clients: its head is read, and the record written,
        # above the row-security scope of whoever is signed in. The scope is
        # switched (only when it is not already the provider's) before the chain
        # lock is taken, so the lock is held for the head, the insert and the
        # commit alone: every writer of the trail queues on it.
        previous = rowsecurity.current_scope()
        switch = rowsecurity.enabled() and previous != rowsecurity.PROVIDER
        if switch:
            rowsecurity.enter(rowsecurity.PROVIDER)
        _lock_chain()
        last = AuditRecord.objects.order_by("-seq").values_list("seq", "hash").first()
        fields["seq"], fields["prev_hash"] = (last[0] + 1, last[1]) if last else (1, GENESIS)
        fields["hash"] = record_hash(fields)
        row = AuditRecord.objects.create(**fields)
        if switch:
            rowsecurity.enter(previous)
        return row


def do_record_audit_export(
    actor: User | None,
    *,
    client: Client,
    rows: int,
    filters: dict[str, str],
    source_ip: str | None = None,
) -> AuditRecord:
    """Record that ``actor`` exported ``client``'s audit trail (``audit.export``).

    Client admins may export only their own client's trail; ``actor=None`` is the
    provider's operator on the command line.
    """
    if actor is not None and not (
        actor.role_enum is Role.CLIENT_ADMIN and actor.client_id == client.pk
    ):
        raise NotAllowed("Only the client's admins can export its audit trail.")
    with transaction.atomic():
        return record(
            actor=actor,
            action="audit.export",
            obj=client,
            client=client,
            source_ip=source_ip,
            detail={"rows": rows, **{k: v for k, v in filters.items() if v}},
        )


def do_record_figures_export(
    actor: User, what: str, filters: Mapping[str, Any], source_ip: str | None = None
) -> AuditRecord:
    """Record that ``actor`` downloaded figures (``figures.export``): what, the period and the
    filters they were asked with, never the figures themselves.

    ``filters`` is the figures form's cleaned data (``start``, ``end``, and the
    ``engagement``, ``service``, ``group_by`` or ``kind`` chosen). The record belongs to
    the actor's client, or, for the provider, to the client of the engagement the figures
    were narrowed to (none for figures across clients). The caller has already shown
    the figures to ``actor``; nothing is checked here.
    """
    engagement = filters.get("engagement")
    service = filters.get("service")
    client = (
        actor.client_id if actor.client_id is not None else getattr(engagement, "client_id", None)
    )
    start, end = filters.get("start"), filters.get("end")
    detail: dict[str, Any] = {
        "what": _clip(what, 100),
        "period": f"{start:%Y-%m-%d}/{end:%Y-%m-%d}" if start and end else "",
        "engagement": getattr(engagement, "pk", None),
        "service": getattr(service, "slug", None),
        "group_by": str(filters.get("group_by") or ""),
        "kind": str(getattr(filters.get("kind"), "value", filters.get("kind") or "")),
    }
    with transaction.atomic():
        return record(
            actor=actor,
            action="figures.export",
            obj=None,
            client=client,
            source_ip=source_ip,
            detail={key: value for key, value in detail.items() if value not in ("", None)},
        )


def do_record_denial(
    actor: User | None,
    *,
    method: str,
    path: str,
    reason: str,
    obj: Any = None,
    client: Client | int | None = None,
    source_ip: str | None = None,
) -> AuditRecord:
    """Record a refused request (HTTP 403) as ``permission.denied``.

    The record goes to the client of the object when there is one, else to the
    actor's own client, so a client admin sees what their people were refused.
    """
    if client is None and actor is not None:
        client = actor.client_id
    return record(
        actor=actor,
        action="permission.denied",
        obj=obj,
        client=client,
        source_ip=source_ip,
        detail={"method": method, "path": _clip(path, 300), "reason": _clip(reason, 500)},
    )
