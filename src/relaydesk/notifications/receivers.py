"""From committed changes to notifications: who is told what.

Each receiver runs after the change it hears of has committed, reads what it
needs, and calls :func:`~relaydesk.notifications.actions.do_notify`. Whatever
goes wrong is logged and swallowed: a notification never fails, nor undoes, the
change it reports. Changes recorded long after they happened (history loaded by
the demo or an import) tell nobody: notifications are about what happens now.

What a client's person is told never names the provider's people nor quotes an
internal note; the provider's people are told what their work needs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.core.lifecycle import Action, State
from relaydesk.core.roles import Role
from relaydesk.notifications.actions import Note, do_notify
from relaydesk.notifications.kinds import Kind
from relaydesk.notifications.mail import zone_of
from relaydesk.routing.models import Handoff, HandoffState
from relaydesk.work.actions import actor_facts
from relaydesk.work.models import HELD_STATES, Comment, Visibility, WorkItem, WorkItemEvent

__all__ = [
    "STALE_AFTER",
    "notifications_paused",
    "on_handoff_offered",
    "on_item_commented",
    "on_sla_escalated",
    "on_sla_warning",
    "on_work_item_changed",
]

logger = logging.getLogger(__name__)

#: A change recorded this long before it is heard of is history, not news.
STALE_AFTER = dt.timedelta(hours=1)
_BODY_LIMIT = 1_000

_paused: ContextVar[bool] = ContextVar("notifications_paused", default=False)


@contextmanager
def notifications_paused() -> Iterator[None]:
    """Nobody is told of the changes made inside the block (loading history)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def _fresh(at: dt.datetime) -> bool:
    return at >= timezone.now() - STALE_AFTER


def _clip(text: str, limit: int = _BODY_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(at: dt.datetime | None, user: User) -> str:
    """An instant as the recipient reads it: "Fri 3 Jul 17:00 (Asia/Manila)"."""
    if at is None:
        return "not set while paused"
    zone = zone_of(user)
    return f"{at.astimezone(zone):%a %-d %b %H:%M} ({zone.key})"


def _item_url(item: WorkItem) -> str:
    return reverse("items:detail", args=[item.pk])


def _item(item_id: int) -> WorkItem | None:
    return (
        WorkItem.objects.select_related(
            "client", "engagement", "service", "owner", "reviewer", "submitted_by"
        )
        .filter(pk=item_id)
        .first()
    )


@contextmanager
def _guarded(what: str, key: object) -> Iterator[None]:
    """Log and swallow any failure: the change being reported has already committed.

    The work runs in a savepoint: the receivers of one signal share a transaction
    (PostgreSQL: the actor's scope), which a failed statement here must not spoil
    for those that come after.
    """
    try:
        with transaction.atomic():
            yield
    except Exception:
        logger.exception("Notifications of %s %s were not written", what, key)


# --- work items ---------------------------------------------------------------------------------


def on_work_item_changed(
    sender: object, item_id: int, action: str = "", to_state: str = "", **kwargs: object
) -> None:
    """A lifecycle change committed: delivery, rework, or an item entering review."""
    if _paused.get():
        return
    if action not in _TOLD_ACTIONS and to_state not in (State.DELIVERED, State.IN_REVIEW):
        return  # most moves tell nobody: read nothing
    with _guarded("item", item_id):
        _changed(item_id, action, to_state)


_TOLD_ACTIONS = {Action.REQUEST_REWORK.value, Action.RETURN_FOR_REWORK.value}


def _changed(item_id: int, action: str, to_state: str) -> None:
    item = _item(item_id)
    event = (
        WorkItemEvent.objects.filter(item_id=item_id, kind=action).order_by("-at", "-id").first()
    )
    if item is None or event is None or not _fresh(event.at):
        return
    if to_state == State.DELIVERED:
        _delivered(item, event.at)
    elif to_state == State.IN_REVIEW:
        _entered_review(item, event.at)
    elif action in _TOLD_ACTIONS and to_state == State.REWORK:
        _rework(item, event, by_client=action == Action.REQUEST_REWORK)


def _delivered(item: WorkItem, at: dt.datetime) -> None:
    """The submitter, and the client's admins who asked to hear of every delivery."""
    title = f"{item.reference} delivered: {item.title}"
    what = f"{item.engagement.name}, {item.service.name}"
    submitter = item.submitted_by
    if submitter.is_client_user:
        body = (
            f"Your request “{item.title}” ({what}) has been delivered. Open it to accept the "
            "work or to ask for rework."
        )
        do_notify(
            Kind.ITEM_DELIVERED,
            item,
            [Note(submitter, title, body, _item_url(item))],
            at=at,
        )
    # Named only when the client's own person submitted it: never the provider's staff.
    by = f", submitted by {submitter.full_name}," if submitter.client_id == item.client_id else ""
    admins = User.objects.filter(
        client_id=item.client_id, role=Role.CLIENT_ADMIN.value, is_active=True
    ).exclude(pk=submitter.pk)
    body = (
        f"A request of your firm{by} has been delivered: “{item.title}” ({what}). It waits "
        "to be accepted, or sent back for rework."
    )
    do_notify(
        Kind.FIRM_ITEM_DELIVERED,
        item,
        [Note(admin, title, body, _item_url(item)) for admin in admins],
        at=at,
    )


def _rework(item: WorkItem, event: WorkItemEvent, *, by_client: bool) -> None:
    """The agent holding the item: the client asked for rework, or a reviewer returned it."""
    holder = item.owner
    if holder is None:
        return
    if by_client:
        title = f"{item.reference} back for rework: the client asked"
        body = f"{item.title} ({item.client.name}). The client wrote: {event.note}"
    else:
        who = event.actor.full_name if event.actor else "The reviewer"
        title = f"{item.reference} returned for rework in review"
        body = f"{item.title} ({item.client.name}). {who} wrote: {event.note}"
    do_notify(
        Kind.REWORK_REQUESTED,
        item,
        [Note(holder, title, _clip(body), _item_url(item))],
        at=event.at,
    )


def _entered_review(item: WorkItem, at: dt.datetime) -> None:
    """The reviewer who reviewed it before, if they still hold the role; else the pool."""
    wanted = item.service.review_role or Role.QA_REVIEWER.value
    what = f"{item.title} ({item.client.name}, {item.service.name})"
    reviewer = item.reviewer
    if reviewer is not None and reviewer.is_active and reviewer.role == wanted:
        do_notify(
            Kind.REVIEW_ASSIGNED,
            item,
            [
                Note(
                    reviewer,
                    f"{item.reference} is back for your review",
                    f"{what} was worked again and waits for your review.",
                    _item_url(item),
                )
            ],
            at=at,
        )
        return
    pool = [
        user
        for user in User.objects.filter(role=wanted, is_active=True)
        # Nobody reviews work they did.
        if not actor_facts(user, item).did_the_work
    ]
    title = f"{item.reference} waits for review"
    body = f"{what} is finished and waits for a reviewer; the first to review it takes it."
    do_notify(
        Kind.REVIEW_WAITING,
        item,
        [Note(user, title, body, _item_url(item)) for user in pool],
        at=at,
    )


# --- comments -----------------------------------------------------------------------------------


def on_item_commented(sender: object, item_id: int, visibility: str = "", **kwargs: object) -> None:
    """A comment committed: the submitter hears of replies, the holder of others' comments."""
    if _paused.get():
        return
    with _guarded("comment on item", item_id):
        _commented(item_id, visibility)


def _commented(item_id: int, visibility: str) -> None:
    item = _item(item_id)
    comment = (
        Comment.objects.filter(item_id=item_id, visibility=visibility)
        .select_related("author")
        .order_by("-created_at", "-id")
        .first()
    )
    if item is None or comment is None or not _fresh(comment.created_at):
        return
    author = comment.author
    title = f"New comment on {item.reference}: {item.title}"
    notes = []
    submitter = item.submitted_by
    if visibility == Visibility.CLIENT and submitter.is_client_user and submitter.pk != author.pk:
        # The client reads "the provider's team", never the name of who wrote it.
        who = author.full_name if author.client_id == item.client_id else "The provider's team"
        notes.append(Note(submitter, title, _clip(f"{who} wrote: {comment.body}"), _item_url(item)))
    holder = item.owner
    if holder is not None and holder.pk != author.pk and item.state in HELD_STATES:
        notes.append(
            Note(holder, title, _clip(f"{author.full_name} wrote: {comment.body}"), _item_url(item))
        )
    do_notify(Kind.COMMENT_ADDED, item, notes, at=comment.created_at)


# --- SLA watch ----------------------------------------------------------------------------------


def on_sla_warning(
    sender: object,
    item_id: int,
    clock: str = "",
    percent: int = 0,
    breached: bool = False,
    due_at: dt.datetime | None = None,
    note: str = "",
    **kwargs: object,
) -> None:
    """The watch warned of a clock, or said it missed its target: the holder and the leads."""
    if _paused.get():
        return
    with _guarded("SLA warning of item", item_id):
        _sla(item_id, clock, percent, breached, due_at)


def _sla(
    item_id: int, clock: str, percent: int, breached: bool, due_at: dt.datetime | None
) -> None:
    item = _item(item_id)
    if item is None:
        return
    name = clock.lower() or "service-level"
    if breached:
        title = f"{item.reference} missed its {name} target"
    else:
        title = f"{item.reference}: {percent} % of its {name} time used"
    holder = item.owner if item.state in HELD_STATES else None
    where = f"held by {holder.full_name}" if holder else f"{item.state_enum.label.lower()}"
    recipients = list(User.objects.filter(role=Role.OPS_LEAD.value, is_active=True))
    if holder is not None:
        recipients.insert(0, holder)
    notes = [
        Note(
            user,
            title,
            f"{item.title} ({item.client.name}, {item.service.name}), {where}. "
            f"Due {_local(due_at, user)}.",
            _item_url(item),
        )
        for user in recipients
    ]
    do_notify(Kind.SLA_WARNING, item, notes)


# The steps of the SLA watch's escalation ladder that tell someone.
_LEAD_STEP, _CLIENT_STEP = 1, 3


def on_sla_escalated(
    sender: object,
    item_id: int,
    step: int = 0,
    clock: str = "",
    percent: int = 0,
    late: bool = False,
    due_at: dt.datetime | None = None,
    **kwargs: object,
) -> None:
    """The watch took an escalation step: the first alerts the operations leads, the third
    tells the client's admins (the second, raising the priority, tells nobody)."""
    if _paused.get() or step not in (_LEAD_STEP, _CLIENT_STEP):
        return
    with _guarded("SLA escalation of item", item_id):
        item = _item(item_id)
        if item is None:
            return
        name = clock.lower() or "service-level"
        if step == _LEAD_STEP:
            _lead_alert(item, name, percent, late, due_at)
        else:
            _client_alert(item, name, late, due_at)


def _lead_alert(
    item: WorkItem, name: str, percent: int, late: bool, due_at: dt.datetime | None
) -> None:
    """Every operations lead: the item has used the share of its time the ladder alerts at."""
    holder = item.owner if item.state in HELD_STATES else None
    where = f"held by {holder.full_name}" if holder else f"{item.state_enum.label.lower()}"
    title = f"{item.reference} escalated: {percent} % of its {name} time used"
    due = "It was due" if late else "Due"
    leads = User.objects.filter(role=Role.OPS_LEAD.value, is_active=True).order_by("pk")
    notes = [
        Note(
            lead,
            title,
            f"{item.title} ({item.client.name}, {item.service.name}), {where}. "
            f"{due} {_local(due_at, lead)}. Reassign it, or help it finish.",
            _item_url(item),
        )
        for lead in leads
    ]
    do_notify(Kind.SLA_LEAD_ALERT, item, notes)


def _client_alert(item: WorkItem, name: str, late: bool, due_at: dt.datetime | None) -> None:
    """The client's admins, of this item's client only: what their timeline already says,
    and never who holds the item, an internal note or the shares the provider counts in."""
    admins = User.objects.filter(
        client_id=item.client_id, role=Role.CLIENT_ADMIN.value, is_active=True
    ).order_by("pk")
    what = f"“{item.title}” ({item.engagement.name}, {item.service.name})"
    if late:
        title = f"{item.reference} is running late: {item.title}"
    else:
        title = f"{item.reference} may run late: {item.title}"
    notes = []
    for admin in admins:
        due = _local(due_at, admin)
        standing = (
            f"is past its {name} target, due {due}"
            if late
            else f"is close to its {name} target, due {due}"
        )
        body = f"A request of your firm, {what}, {standing}. The provider's team lead is on it."
        notes.append(Note(admin, title, body, _item_url(item)))
    do_notify(Kind.SLA_CLIENT_ALERT, item, notes)


# --- handoffs -----------------------------------------------------------------------------------


def on_handoff_offered(sender: object, handoff_id: int, **kwargs: object) -> None:
    """An item was handed to an agent of the next shift: they must acknowledge it."""
    if _paused.get():
        return
    with _guarded("handoff", handoff_id):
        _handoff(handoff_id)


def _handoff(handoff_id: int) -> None:
    handoff = (
        Handoff.objects.select_related("from_agent__user", "to_agent__user")
        .filter(pk=handoff_id)
        .first()
    )
    if (
        handoff is None
        or handoff.to_agent is None
        or handoff.state != HandoffState.OFFERED
        or not _fresh(handoff.created_at)
    ):
        return
    item = _item(handoff.item_id)
    if item is None:
        return
    receiver = handoff.to_agent.user
    giver = handoff.from_agent.user.full_name
    by = _local(handoff.respond_by, receiver)
    body = (
        f"{item.title} ({item.client.name}). Acknowledge it by {by}, or it goes back to the "
        f"queue. {giver}'s note: {handoff.note}"
    )
    do_notify(
        Kind.HANDOFF_WAITING,
        item,
        [
            Note(
                receiver,
                f"{item.reference} handed to you by {giver}",
                _clip(body),
                reverse("workspace:home"),
            )
        ],
        at=handoff.created_at,
    )
