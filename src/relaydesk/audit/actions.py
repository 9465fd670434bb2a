"""Writing the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord
from relaydesk.clients.models import Client


def record(
    *,
    actor: User | None,
    action: str,
    obj: Any,
    client: Client | int | None = None,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditRecord:
    """Append one audit record; call inside the action's transaction."""
    client_id = client.pk if isinstance(client, Client) else client
    return AuditRecord.objects.create(
        at=at or timezone.now(),
        actor=actor,
        actor_label=str(actor) if actor else "system",
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or ""),
        client_id=client_id,
        source_ip=source_ip,
        detail=detail or {},
    )
