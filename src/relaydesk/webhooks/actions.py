"""Every write of webhooks: endpoints and their secrets, events, and sending deliveries.

Configuration (create, update, delete, roll the secret) and the sends a person
asks for (a test event, "Retry now") are ``do_*`` actions: checked, in one
transaction, audited. The secret is never written to the audit trail or a log.

Events are queued by the receivers of ``work_item_changed`` and
``item_commented`` (connected in ``apps.py``): after the change committed, one
delivery row per matching endpoint is written and a task enqueued to send it.
Sending happens in the worker, never in the request that changed the item, and a
failure to queue is logged, never raised into that change. A failed delivery is
retried with exponential backoff (:data:`RETRY_DELAYS_MINUTES`) up to
:data:`MAX_ATTEMPTS` attempts, then given up; :func:`do_send_due_deliveries`
sends whatever is due, so a lost task only delays a delivery.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.audit.queries import INTERNAL_ACTIONS
from relaydesk.clients.models import Engagement
from relaydesk.core.lifecycle import Action, State
from relaydesk.errors import Conflict, Invalid, NotAllowed, NotFound
from relaydesk.vault.actions import current_data_key
from relaydesk.vault.crypto import (
    DecryptionError,
    data_key_aad,
    decrypt_value,
    encrypt_value,
    unwrap_key,
)
from relaydesk.vault.keys import KeyUnavailable, load_master_key
from relaydesk.vault.models import ClientDataKey
from relaydesk.webhooks import signing, transport
from relaydesk.webhooks.models import (
    SUBSCRIBABLE,
    WAITING_STATES,
    DeliveryState,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from relaydesk.webhooks.queries import can_manage_webhooks, visible_endpoints
from relaydesk.work.models import Comment, Visibility, WorkItem, WorkItemEvent
from relaydesk.work.schemas import PRIORITY_NAMES

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_ENDPOINTS_PER_ENGAGEMENT",
    "RETRY_DELAYS_MINUTES",
    "USER_AGENT",
    "do_create_endpoint",
    "do_delete_endpoint",
    "do_retry_delivery",
    "do_roll_secret",
    "do_send_delivery",
    "do_send_due_deliveries",
    "do_send_test_event",
    "do_update_endpoint",
    "event_type_for",
    "on_item_commented",
    "on_work_item_changed",
    "queue_event",
]

logger = logging.getLogger(__name__)

USER_AGENT = "Relaydesk-Webhooks/1"
MAX_ATTEMPTS = 8
# Minutes to wait after the 1st, 2nd, ... failed attempt (the last one ends in "given up").
RETRY_DELAYS_MINUTES = (1, 2, 4, 8, 16, 32, 60)
MAX_ENDPOINTS_PER_ENGAGEMENT = 10
# How long a rolled secret keeps signing beside the new one, unless it is retired at once.
PREVIOUS_SECRET_HOURS = 24
MAX_PREVIOUS_SECRET_HOURS = 7 * 24
# A claimed delivery is not claimed again for this long (a sender that died lets it go).
SENDING_LEASE = dt.timedelta(seconds=120)
# At most this many deliveries per sweep, so the routing loop is never held up for long.
SWEEP_LIMIT = 50
# Finished deliveries are kept this long in the log, then deleted by the sweep.
LOG_DAYS = 30
DISABLED_NOTE = "Not sent: the endpoint was disabled."

# Lifecycle moves only the provider sees (who holds an item, a reviewer's return).
_INTERNAL_MOVES = frozenset(a.removeprefix("work_item.") for a in INTERNAL_ACTIONS)
_NAMED_MOVES = {
    Action.QUEUE.value: EventType.SUBMITTED,
    Action.ACCEPT.value: EventType.ACCEPTED,
    Action.REQUEST_REWORK.value: EventType.REWORK_REQUESTED,
    Action.CANCEL.value: EventType.CANCELLED,
}


# --- endpoints ------------------------------------------------------------------------------


def _manager(actor: User) -> None:
    if not can_manage_webhooks(actor):
        raise NotAllowed("Only your firm's admins set up webhooks.")


def _engagement(actor: User, engagement_id: int) -> Engagement:
    engagement = Engagement.objects.filter(client_id=actor.client_id or 0, pk=engagement_id).first()
    if engagement is None:
        raise Invalid(f"There is no engagement {engagement_id} of yours to send events from.")
    return engagement


def _clean_url(url: str) -> str:
    try:
        return transport.check_url(url)
    except transport.UrlRefused as refused:
        raise Invalid(str(refused)) from refused


def _clean_events(event_types: Iterable[str]) -> list[str]:
    chosen = {str(e).strip() for e in event_types if str(e).strip()}
    if not chosen:
        raise Invalid("Choose at least one event to send.")
    known = {e.value for e in SUBSCRIBABLE}
    unknown = sorted(chosen - known)
    if unknown:
        raise Invalid(
            f"Unknown event type{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; "
            f"choose from {', '.join(e.value for e in SUBSCRIBABLE)}."
        )
    return [e.value for e in SUBSCRIBABLE if e.value in chosen]


def _clean_description(description: str) -> str:
    description = description.strip()
    if len(description) > 200:
        raise Invalid("Keep the description to 200 characters.")
    return description


def _shown_url(url: str) -> str:
    """The URL without its query string, for the audit trail (a query may carry a token)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _lock(actor: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Re-read the endpoint under a row lock; 404 if ``actor`` may not see it, 403 if they
    may see but not manage it."""
    locked = (
        visible_endpoints(actor)
        .select_for_update(of=("self",))
        .filter(pk=endpoint.pk)
        .select_related("engagement")
        .first()
    )
    if locked is None:
        raise NotFound("No such webhook endpoint.")
    if not can_manage_webhooks(actor) or locked.client_id != actor.client_id:
        raise NotAllowed("Only the client's admins change its webhooks.")
    return locked


def _secret_aad(client_id: int, secret_id: uuid.UUID, key_version: int) -> bytes:
    return (
        f"relaydesk/webhook-secret/v1|client={client_id}|secret={secret_id}|key={key_version}"
    ).encode()


def _seal_secret(endpoint: WebhookEndpoint, secret: str, *, at: dt.datetime) -> None:
    """Store ``secret`` on the endpoint encrypted with its client's current data key."""
    version, key = current_data_key(endpoint.client_id, at=at)
    endpoint.secret_id = uuid.uuid4()
    endpoint.secret_key_version = version
    endpoint.secret_nonce, endpoint.secret_ciphertext = encrypt_value(
        key, secret.encode(), _secret_aad(endpoint.client_id, endpoint.secret_id, version)
    )
    endpoint.secret_hint = signing.secret_hint(secret)


def do_create_endpoint(
    actor: User,
    *,
    engagement_id: int,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    active: bool = True,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Set up an endpoint for one of the actor's engagements; return it and its secret.

    The secret is returned this once: only its encryption is stored.
    """
    _manager(actor)
    engagement = _engagement(actor, engagement_id)
    url = _clean_url(url)
    chosen = _clean_events(event_types)
    description = _clean_description(description)
    at = at or timezone.now()
    secret = signing.new_secret()
    with transaction.atomic():
        # The engagement's row serialises concurrent creations against the limit.
        Engagement.objects.select_for_update().filter(pk=engagement.pk).first()
        if WebhookEndpoint.objects.filter(engagement=engagement).count() >= (
            MAX_ENDPOINTS_PER_ENGAGEMENT
        ):
            raise Conflict(
                f"'{engagement.name}' already has {MAX_ENDPOINTS_PER_ENGAGEMENT} endpoints; "
                "delete one first."
            )
        endpoint = WebhookEndpoint(
            client_id=engagement.client_id,
            engagement=engagement,
            url=url,
            description=description,
            event_types=chosen,
            active=active,
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        _seal_secret(endpoint, secret, at=at)
        endpoint.save()
        record(
            actor=actor,
            action="webhook.endpoint.create",
            obj=endpoint,
            client=endpoint.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": engagement.pk,
                "url": _shown_url(url),
                "events": chosen,
                "active": active,
            },
        )
    return endpoint, secret


def do_update_endpoint(
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or whether it is active.

    Disabling gives up the deliveries still waiting, so re-enabling never floods
    the receiver with old events ("Retry now" sends one again).
    """
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = _clean_url(url)
    if event_types is not None:
        changes["event_types"] = _clean_events(event_types)
    if description is not None:
        changes["description"] = _clean_description(description)
    if active is not None:
        changes["active"] = bool(active)
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, endpoint)
        changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
        if not changed:
            return locked
        for name, value in changed.items():
            setattr(locked, name, value)
        locked.updated_at = at
        locked.save()
        given_up = 0
        if changed.get("active") is False:
            given_up = WebhookDelivery.objects.filter(
                endpoint=locked, state__in=WAITING_STATES
            ).update(
                state=DeliveryState.GIVEN_UP,
                next_attempt_at=None,
                last_error=DISABLED_NOTE,
                updated_at=at,
            )
        detail: dict[str, Any] = {"engagement": locked.engagement_id, "changed": sorted(changed)}
        if "url" in changed:
            detail["url"] = _shown_url(locked.url)
        if "event_types" in changed:
            detail["events"] = locked.event_types
        if "active" in changed:
            detail["active"] = locked.active
            detail["waiting_given_up"] = given_up
        record(
            actor=actor,
            action="webhook.endpoint.update",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail=detail,
        )
    return locked


def do_delete_endpoint(
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Delete an endpoint with its delivery log; nothing more is sent to it."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, endpoint)
        deliveries = WebhookDelivery.objects.filter(endpoint=locked).count()
        record(
            actor=actor,
            action="webhook.endpoint.delete",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": locked.engagement_id,
                "url": _shown_url(locked.url),
                "deliveries": deliveries,
            },
        )
        locked.delete()


def do_roll_secret(
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    keep_previous_hours: int = PREVIOUS_SECRET_HOURS,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Give the endpoint a new signing secret and return it (shown this once).

    The old secret keeps signing beside the new one for ``keep_previous_hours``
    (0: it stops at once), time to put the new one into the receiver.
    """
    if not 0 <= keep_previous_hours <= MAX_PREVIOUS_SECRET_HOURS:
        raise Invalid(
            f"Keep the old secret for 0 to {MAX_PREVIOUS_SECRET_HOURS} hours "
            f"(got {keep_previous_hours})."
        )
    at = at or timezone.now()
    secret = signing.new_secret()
    with transaction.atomic():
        locked = _lock(actor, endpoint)
        if keep_previous_hours:
            locked.previous_secret_id = locked.secret_id
            locked.previous_secret_key_version = locked.secret_key_version
            locked.previous_secret_nonce = locked.secret_nonce
            locked.previous_secret_ciphertext = locked.secret_ciphertext
            locked.previous_secret_expires_at = at + dt.timedelta(hours=keep_previous_hours)
        else:
            locked.previous_secret_id = None
            locked.previous_secret_key_version = None
            locked.previous_secret_nonce = None
            locked.previous_secret_ciphertext = None
            locked.previous_secret_expires_at = None
        _seal_secret(locked, secret, at=at)
        locked.secret_rolled_at = at
        locked.updated_at = at
        locked.save()
        record(
            actor=actor,
            action="webhook.secret.roll",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={"engagement": locked.engagement_id, "keep_previous_hours": keep_previous_hours},
        )
    return secret


# --- events ---------------------------------------------------------------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _item_url(item_id: int) -> str:
    base = str(getattr(settings, "RELAYDESK_BASE_URL", "")).rstrip("/")
    return base + reverse("items:detail", kwargs={"item_id": item_id})


def item_data(item: WorkItem) -> dict[str, Any]:
    """The work item as an event carries it: the fields the client's API shows."""
    return {
        "id": item.pk,
        "reference": item.reference,
        "title": item.title,
        "state": item.state,
        "service": item.service.slug,
        "priority": PRIORITY_NAMES.get(item.priority, str(item.priority)),
        "due_at": _iso(item.due_at),
        "delivered_at": _iso(item.delivered_at),
        "url": _item_url(item.pk),
    }


def _payload(
    event_id: uuid.UUID,
    event_type: str,
    engagement: Engagement,
    data: dict[str, Any],
    at: dt.datetime,
) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": event_type,
        "created_at": _iso(at),
        "engagement": {"id": engagement.pk, "name": engagement.name},
        "data": data,
    }


def event_type_for(action: str, to_state: str) -> EventType | None:
    """The event a committed lifecycle move makes, or ``None`` for the provider's own moves.

    Who holds an item (assign, take, release) and a reviewer's return for rework
    are the provider's business and make no event; the timeline's internal flag
    is checked on top by the receiver.
    """
    if action in _INTERNAL_MOVES:
        return None
    if action in _NAMED_MOVES:
        return _NAMED_MOVES[action]
    if to_state == State.DELIVERED.value:
        return EventType.DELIVERED
    return EventType.STATE_CHANGED


def queue_event(
    engagement: Engagement,
    event_type: str,
    data: dict[str, Any],
    *,
    at: dt.datetime | None = None,
) -> list[WebhookDelivery]:
    """Write one delivery per active endpoint of ``engagement`` that wants ``event_type``,
    and enqueue their sending once the rows commit. Call inside a transaction."""
    at = at or timezone.now()
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(engagement_id=engagement.pk, active=True)
        if event_type in endpoint.event_types
    ]
    if not endpoints:
        return []
    event_id = uuid.uuid4()
    payload = _payload(event_id, event_type, engagement, data, at)
    deliveries = [
        WebhookDelivery.objects.create(
            client_id=endpoint.client_id,
            endpoint=endpoint,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            next_attempt_at=at,
            created_at=at,
            updated_at=at,
        )
        for endpoint in endpoints
    ]
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def _enqueue(delivery_ids: Sequence[int], run_after: dt.datetime | None = None) -> None:
    """Enqueue the send task of each delivery; a failure is logged (the sweep sends it)."""
    from relaydesk.webhooks.tasks import send_webhook_delivery

    task = send_webhook_delivery
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return  # the sweep sends it when it is due
        task = task.using(run_after=run_after)
    for delivery_id in delivery_ids:
        try:
            task.enqueue(delivery_id)
        except Exception:
            logger.exception("Sending webhook delivery %s could not be enqueued", delivery_id)


def _client_visible_move(item_id: int, action: str) -> bool:
    event = (
        WorkItemEvent.objects.filter(item_id=item_id, kind=action).order_by("-at", "-id").first()
    )
    return event is not None and not event.internal


def on_work_item_changed(
    sender: object, item_id: int, action: str, to_state: str, **kwargs: object
) -> None:
    """After a committed lifecycle change: queue its event for the engagement's endpoints.

    Only writes rows and enqueues; any failure is logged and never reaches the
    change that was just committed.
    """
    try:
        event_type = event_type_for(action, to_state)
        # Most deployments have few endpoints: one small query decides for the rest.
        if event_type is None or not WebhookEndpoint.objects.filter(active=True).exists():
            return
        with transaction.atomic():
            found = (
                WorkItem.objects.select_related("engagement", "service").filter(pk=item_id).first()
            )
            if found is None:
                return
            # A delivery is always news to the client, even after a review's internal verdict.
            if event_type is not EventType.DELIVERED and not _client_visible_move(item_id, action):
                return
            queue_event(found.engagement, event_type, {"work_item": item_data(found)})
    except Exception:
        logger.exception("Webhook events of work item %s could not be queued", item_id)


def on_item_commented(sender: object, item_id: int, visibility: str, **kwargs: object) -> None:
    """After a committed comment the client can read: queue ``comment.created``.

    The event names the comment (id, author, time), not its text: read it with
    ``GET /api/v1/work-items/{id}/comments``. Internal comments make no event.
    """
    if visibility != Visibility.CLIENT:
        return
    try:
        if not WebhookEndpoint.objects.filter(active=True).exists():
            return
        with transaction.atomic():
            item = (
                WorkItem.objects.select_related("engagement", "service").filter(pk=item_id).first()
            )
            comment = (
                Comment.objects.filter(item_id=item_id, visibility=Visibility.CLIENT)
                .select_related("author")
                .order_by("-created_at", "-id")
                .first()
            )
            if item is None or comment is None:
                return
            queue_event(
                item.engagement,
                EventType.COMMENT_CREATED,
                {
                    "work_item": item_data(item),
                    "comment": {
                        "id": comment.pk,
                        "author": comment.author.full_name,
                        "created_at": _iso(comment.created_at),
                    },
                },
            )
    except Exception:
        logger.exception("Webhook events of a comment on work item %s could not be queued", item_id)


# --- sending --------------------------------------------------------------------------------


def _data_key(client_id: int, version: int) -> bytes:
    row = ClientDataKey.objects.filter(client_id=client_id, version=version).first()
    if row is None:
        raise KeyUnavailable(f"Client {client_id} has no data key v{version}.")
    master = load_master_key(create=False)
    if row.master_key_id != master.id:
        raise KeyUnavailable(f"Data key v{version} of client {client_id} has another master key.")
    try:
        return unwrap_key(master.key, bytes(row.wrapped_key), data_key_aad(client_id, version))
    except DecryptionError as error:
        raise KeyUnavailable(f"Data key v{version} of client {client_id} was altered.") from error


def _open(client_id: int, secret_id: uuid.UUID, version: int, nonce: Any, sealed: Any) -> str:
    key = _data_key(client_id, version)
    aad = _secret_aad(client_id, secret_id, version)
    return decrypt_value(key, bytes(nonce), bytes(sealed), aad).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, at: dt.datetime | None = None) -> list[str]:
    """The secrets that sign the endpoint's deliveries now: the current one, then the
    previous one while it still signs. Raises ``KeyUnavailable`` or ``DecryptionError``."""
    found = [
        _open(
            endpoint.client_id,
            endpoint.secret_id,
            endpoint.secret_key_version,
            endpoint.secret_nonce,
            endpoint.secret_ciphertext,
        )
    ]
    if endpoint.previous_secret_signs(at) and endpoint.previous_secret_id is not None:
        found.append(
            _open(
                endpoint.client_id,
                endpoint.previous_secret_id,
                endpoint.previous_secret_key_version or 1,
                endpoint.previous_secret_nonce,
                endpoint.previous_secret_ciphertext,
            )
        )
    return found


def request_of(
    delivery: WebhookDelivery, secrets: Sequence[str], *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt of ``delivery``, signed now with ``secrets``."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Relaydesk-Event-Id": str(delivery.event_id),
        "Relaydesk-Event-Type": delivery.event_type,
        "Relaydesk-Delivery-Attempt": str(delivery.attempts + 1),
        "Relaydesk-Signature": signing.signature_header(secrets, stamp, body),
    }
    return body, headers


def _claim(delivery_id: int, *, at: dt.datetime, manual: bool) -> bool:
    """Take the delivery for sending, unless someone is sending it or it is not (or no
    longer) due; one conditional update, so two senders never both win."""
    free = Q(sending_until__isnull=True) | Q(sending_until__lt=at)
    rows = WebhookDelivery.objects.filter(free, pk=delivery_id)
    if manual:
        rows = rows.exclude(state=DeliveryState.SUCCEEDED)
    else:
        rows = rows.filter(state__in=WAITING_STATES, next_attempt_at__lte=at, endpoint__active=True)
    return rows.update(sending_until=at + SENDING_LEASE) == 1


def _attempt(delivery_id: int, *, at: dt.datetime, manual: bool, retries: bool = True) -> bool:
    """Send one claimed attempt and record how it went; False when it could not be claimed."""
    if not _claim(delivery_id, at=at, manual=manual):
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    try:
        secrets = signing_secrets(endpoint, at=at)
    except (KeyUnavailable, DecryptionError) as problem:
        logger.error("Webhook endpoint %s: its secret cannot be opened: %s", endpoint.pk, problem)
        outcome = transport.Outcome(
            None, "The signing secret cannot be opened; the provider has been told.", 0
        )
    else:
        body, headers = request_of(delivery, secrets)
        try:
            outcome = transport.post(endpoint.url, body, headers)
        except Exception:
            # Counted as a failed attempt, so a delivery that always breaks ends given up.
            logger.exception("Webhook delivery %s could not be sent", delivery_id)
            outcome = transport.Outcome(None, "Could not send: an unexpected error.", 0)
    _record_attempt(delivery_id, outcome, at=at, retries=retries)
    return True


def _record_attempt(
    delivery_id: int, outcome: transport.Outcome, *, at: dt.datetime, retries: bool
) -> None:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        delivery.last_attempt_at = at
        delivery.last_status_code = outcome.status
        delivery.last_error = outcome.error[:300]
        delivery.last_response_ms = outcome.elapsed_ms
        delivery.sending_until = None
        delivery.updated_at = at
        retry_at: dt.datetime | None = None
        if outcome.ok:
            delivery.state = DeliveryState.SUCCEEDED
            delivery.next_attempt_at = None
        elif not retries:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS or delivery.state == DeliveryState.GIVEN_UP:
            delivery.state = DeliveryState.GIVEN_UP
            delivery.next_attempt_at = None
        else:
            delay = RETRY_DELAYS_MINUTES[min(delivery.attempts, len(RETRY_DELAYS_MINUTES)) - 1]
            retry_at = at + dt.timedelta(minutes=delay)
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = retry_at
        delivery.save()
        if retry_at is not None:
            transaction.on_commit(lambda: _enqueue([delivery_id], run_after=retry_at))


def do_send_delivery(delivery_id: int, *, at: dt.datetime | None = None) -> str:
    """Send a delivery if it is due and nobody else is sending it; its state afterwards.

    The background task's body: the state is ``"not_due"`` when there was
    nothing to do (already sent, not due yet, endpoint disabled or deleted).
    """
    at = at or timezone.now()
    if not _attempt(delivery_id, at=at, manual=False):
        return "not_due"
    return str(WebhookDelivery.objects.values_list("state", flat=True).get(pk=delivery_id))


def do_send_due_deliveries(*, at: dt.datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Send the deliveries that are due (their task may have been lost); how many were sent.

    After one failure of an endpoint, its other due deliveries wait for the next
    sweep, so one dead receiver never holds up the rest. Finished deliveries
    older than :data:`LOG_DAYS` are deleted from the log.
    """
    at = at or timezone.now()
    due = (
        WebhookDelivery.objects.filter(
            state__in=WAITING_STATES, next_attempt_at__lte=at, endpoint__active=True
        )
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lt=at))
        .order_by("next_attempt_at", "id")
        .values_list("pk", "endpoint_id")[:limit]
    )
    failing: set[int] = set()
    sent = 0
    for delivery_id, endpoint_id in list(due):
        if endpoint_id in failing:
            continue
        if not _attempt(delivery_id, at=at, manual=False):
            continue
        sent += 1
        if WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.SUCCEEDED).exists():
            continue
        failing.add(endpoint_id)
    finished = Q(state__in=[DeliveryState.SUCCEEDED, DeliveryState.GIVEN_UP]) | Q(
        next_attempt_at__isnull=True, state=DeliveryState.FAILED
    )
    WebhookDelivery.objects.filter(
        finished, created_at__lt=at - dt.timedelta(days=LOG_DAYS)
    ).delete()
    return sent


def do_send_test_event(
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> WebhookDelivery:
    """Send a ``ping`` to the endpoint now and return its delivery (a failure is not retried).

    The audit record comes last, after the send, so the audit trail is not held
    while the endpoint answers.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, endpoint)
        event_id = uuid.uuid4()
        delivery = WebhookDelivery.objects.create(
            client_id=locked.client_id,
            endpoint=locked,
            event_id=event_id,
            event_type=EventType.PING,
            payload=_payload(
                event_id,
                EventType.PING,
                locked.engagement,
                {"message": "A test event from Relaydesk.", "endpoint_id": locked.pk},
                at,
            ),
            created_at=at,
            updated_at=at,
        )
    _attempt(delivery.pk, at=at, manual=True, retries=False)
    delivery.refresh_from_db()
    with transaction.atomic():
        record(
            actor=actor,
            action="webhook.test",
            obj=locked,
            client=locked.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "delivery": delivery.pk,
                "state": delivery.state,
                "status": delivery.last_status_code,
            },
        )
    return delivery


def do_retry_delivery(
    actor: User,
    delivery: WebhookDelivery,
    *,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> WebhookDelivery:
    """Send a failed or given-up delivery again now; return it with the new outcome.

    A failed delivery keeps its schedule of retries; a given-up one stays given
    up unless this attempt succeeds. 409 while it is being sent or once it succeeded.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(actor, delivery.endpoint)
        current = WebhookDelivery.objects.filter(pk=delivery.pk, endpoint=locked).first()
        if current is None:
            raise NotFound("No such delivery.")
        if not current.can_retry:
            raise Conflict(
                f"This delivery is {current.get_state_display().lower()}; only a failed or "
                "given-up delivery can be sent again."
            )
    # A test event is never retried by itself; an event keeps its schedule of retries.
    retries = current.event_type != EventType.PING
    if not _attempt(current.pk, at=at, manual=True, retries=retries):
        raise Conflict("This delivery is being sent right now; look again in a moment.")
    current.refresh_from_db()
    with transaction.atomic():
        record(
            actor=actor,
            action="webhook.delivery.retry",
            obj=current,
            client=current.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "endpoint": locked.pk,
                "event": str(current.event_id),
                "state": current.state,
                "status": current.last_status_code,
            },
        )
    return current
