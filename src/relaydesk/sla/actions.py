"""Replaying SLA clocks: after every change of an item, of a policy or of a calendar."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.permissions import Permission, can
from relaydesk.core.sla import Clock, ClockKind, ClockStatus
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.sla.models import SlaClock, SlaPolicy, escalation_problem
from relaydesk.sla.queries import ReplayInputs, policies_of, policy_for
from relaydesk.sla.signals import sla_escalated, sla_warning
from relaydesk.tenancy import rowsecurity
from relaydesk.work.models import Priority, WorkItem, WorkItemEvent

__all__ = [
    "do_replay_clocks",
    "do_replay_engagement",
    "do_set_sla_policy",
    "do_watch_clocks",
    "on_work_item_changed",
    "replay_after_change",
    "replay_paused",
]

logger = logging.getLogger(__name__)

_BATCH = 500
_CLOSED_STATES = ("accepted", "cancelled")


def do_replay_clocks(item_ids: Iterable[int], *, at: dt.datetime | None = None) -> int:
    """Replay the clocks of ``item_ids`` from their timelines and store them.

    Each item's clocks are written as the replay finds them (the announced
    warnings and escalation steps of a clock that still exists are kept), clocks
    that no longer exist (a policy lost a target) are removed, and the item's due
    time becomes its turnaround's. Returns how many items were replayed. Runs in
    the caller's row-security scope; items it cannot see are skipped.
    """
    now = at or timezone.now()
    ids = sorted(set(item_ids))
    if not ids:
        return 0
    items = list(WorkItem.objects.filter(pk__in=ids).select_related("engagement__calendar"))
    if not items:
        return 0
    policies = policies_of(items)
    if not any(policies.values()) and not SlaClock.objects.filter(item_id__in=ids).exists():
        return len(items)  # nothing promised and nothing stored: the due time stays as it is
    inputs = ReplayInputs.read(items, policies)
    with transaction.atomic():
        kept = {
            (c.item_id, c.kind, c.cycle): c
            for c in SlaClock.objects.select_for_update()
            .filter(item_id__in=[i.pk for i in items])
            .order_by()
        }
        seen: set[tuple[int, str, int]] = set()
        for item in items:
            clocks = inputs.clocks(item, now)
            seen |= _store(item, clocks, kept, now)
            turnaround = next((c for c in clocks if c.kind is ClockKind.TURNAROUND), None)
            # Without a turnaround target the item is due by its hard deadline, if it has one.
            due = turnaround.due_at if turnaround is not None else item.deadline
            if due != item.due_at:
                WorkItem.objects.filter(pk=item.pk).update(due_at=due)
        stale = [row.pk for key, row in kept.items() if key not in seen]
        if stale:
            SlaClock.objects.filter(pk__in=stale).delete()
    return len(items)


def _store(
    item: WorkItem,
    clocks: list[Clock],
    kept: dict[tuple[int, str, int], SlaClock],
    now: dt.datetime,
) -> set[tuple[int, str, int]]:
    """Write ``item``'s replayed clocks over the stored ones; the keys written."""
    written = set()
    for clock in clocks:
        key = (item.pk, clock.kind.value, clock.cycle)
        row = kept.get(key) or SlaClock(
            client_id=item.client_id,
            engagement_id=item.engagement_id,
            service_id=item.service_id,
            item=item,
            kind=clock.kind.value,
            cycle=clock.cycle,
        )
        values = {
            "status": clock.status.value,
            "business": clock.business,
            "target_seconds": int(clock.target.total_seconds()),
            "elapsed_seconds": int(clock.elapsed.total_seconds()),
            "started_at": clock.started_at,
            "due_at": clock.due_at,
            "stopped_at": clock.stopped_at,
            "breached_at": clock.breached_at,
            "paused_reason": clock.paused_reason[:200],
            "holder_id": item.owner_id,
        }
        if row.pk is None or any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.replayed_at = now
            row.save()
        written.add(key)
    return written


def do_replay_engagement(engagement_id: int, *, at: dt.datetime | None = None) -> int:
    """Replay every open item of one engagement (after its policies or calendar changed)."""
    open_items = WorkItem.objects.filter(engagement_id=engagement_id).exclude(
        state__in=_CLOSED_STATES
    )
    ids = list(open_items.values_list("pk", flat=True))
    done = 0
    for start in range(0, len(ids), _BATCH):
        done += do_replay_clocks(ids[start : start + _BATCH], at=at)
    return done


_paused: ContextVar[bool] = ContextVar("sla_replay_paused", default=False)


@contextmanager
def replay_paused() -> Iterator[None]:
    """No replay after each change inside the block (the demo writes its history, then
    replays every item once)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def on_work_item_changed(sender: object, item_id: int, **kwargs: object) -> None:
    """After a committed change of an item (or a new comment on it): replay its clocks.

    A failure is logged and left to the watch, which replays open items again;
    it never fails the change that was just committed.
    """
    if _paused.get():
        return
    try:
        do_replay_clocks([item_id])
    except Exception:
        logger.exception("SLA clocks of item %s could not be replayed", item_id)


def do_set_sla_policy(
    actor: User,
    engagement: Engagement,
    *,
    service: Service | None = None,
    priority: int | None = None,
    first_response_minutes: int | None = None,
    first_response_business: bool = True,
    next_response_minutes: int | None = None,
    next_response_business: bool = True,
    turnaround_minutes: int | None = None,
    turnaround_business: bool = True,
    warn_at: str = "75,90",
    lead_at: int | None = 90,
    raise_priority_at: int | None = 100,
    client_at: int | None = 125,
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> SlaPolicy:
    """Set the engagement's SLA policy for one service and priority (or all of either).

    Replaces the policy of the same scope, if there is one. ``warn_at`` are the
    warning percentages (1–99); ``lead_at``, ``raise_priority_at`` and
    ``client_at`` the escalation ladder the watch climbs, each a percentage of a
    clock's target (1–1000, ascending; None skips the step). Raises
    :class:`Invalid` with a sentence saying what is wrong. Once committed, the
    clocks of the engagement's open items are replayed on the new terms, so their
    due times move with it.
    """
    if not can(actor.role_enum, Permission.CONFIGURE_SLA):
        raise NotAllowed("Your role cannot set SLA policies.")
    ladder = escalation_problem(lead_at, raise_priority_at, client_at)
    if ladder is not None:
        raise Invalid(ladder[1])
    at = at or timezone.now()
    with transaction.atomic():
        policy = (
            SlaPolicy.objects.select_for_update()
            .filter(engagement=engagement, service=service, priority=priority)
            .order_by()  # the default order joins the service, which FOR UPDATE refuses
            .first()
        ) or SlaPolicy(engagement=engagement, service=service, priority=priority)
        policy.client_id = engagement.client_id
        policy.first_response_minutes = first_response_minutes
        policy.first_response_business = first_response_business
        policy.next_response_minutes = next_response_minutes
        policy.next_response_business = next_response_business
        policy.turnaround_minutes = turnaround_minutes
        policy.turnaround_business = turnaround_business
        policy.warn_at = warn_at
        policy.lead_at = lead_at
        policy.raise_priority_at = raise_priority_at
        policy.client_at = client_at
        policy.updated_at = at
        try:
            policy.full_clean(exclude=["client"])
        except ValidationError as problem:
            raise Invalid(" ".join(problem.messages)) from None
        policy.save()
        record(
            actor=actor,
            action="sla.policy_set",
            obj=policy,
            client=engagement.client_id,
            source_ip=source_ip,
            at=at,
            detail={
                "engagement": engagement.pk,
                "service": service.slug if service else None,
                "priority": priority,
                "first_response_minutes": first_response_minutes,
                "next_response_minutes": next_response_minutes,
                "turnaround_minutes": turnaround_minutes,
                "warn_at": policy.warn_at,
                "lead_at": lead_at,
                "raise_priority_at": raise_priority_at,
                "client_at": client_at,
            },
        )
        rowsecurity.on_commit_in_scope(lambda: replay_after_change([engagement.pk]))
    return policy


def replay_after_change(engagement_ids: Iterable[int]) -> None:
    """Replay the open items of engagements whose policy or calendar changed (after commit).

    A failure is logged; the watch replays open items again.
    """
    for engagement_id in engagement_ids:
        try:
            do_replay_engagement(engagement_id)
        except Exception:
            logger.exception("SLA clocks of engagement %s could not be replayed", engagement_id)


# --- the watch --------------------------------------------------------------------------------

_WATCHED_STATUSES = (ClockStatus.RUNNING.value, ClockStatus.BREACHED.value)


@dataclass(frozen=True, slots=True)
class WatchRun:
    """What one run of the watch did: items replayed, warnings and escalation steps said."""

    replayed: int
    warnings: int
    escalations: int


def do_watch_clocks(*, at: dt.datetime | None = None) -> WatchRun:
    """Replay every open item's clocks, then say each new warning and escalation step once.

    Runs as the system (the worker). A clock that has used a ``warn_at``
    percentage of its target gets an internal "SLA warning" on its item's
    timeline; one past its due time an internal "SLA target missed". Then the
    policy's escalation steps, each at its own percentage: alert the operations
    lead (internal, and a ``sla.lead_alert`` audit record), raise the item's
    priority one step (turnaround clocks only), tell the client's admins (on the
    timeline the client reads, and a ``sla.client_alert`` record). ``warned``
    and ``escalation`` on the clock keep each from being said twice. Once
    committed, ``sla_warning`` and ``sla_escalated`` tell the notifications.
    """
    now = at or timezone.now()
    open_ids = list(WorkItem.objects.exclude(state__in=_CLOSED_STATES).values_list("pk", flat=True))
    replayed = 0
    for start in range(0, len(open_ids), _BATCH):
        replayed += do_replay_clocks(open_ids[start : start + _BATCH], at=now)
    warnings = escalations = 0
    watched = (
        SlaClock.objects.filter(status__in=_WATCHED_STATUSES, stopped_at__isnull=True)
        .select_related("item__engagement")
        .order_by("item_id", "kind", "cycle")
    )
    policies: dict[int, list[SlaPolicy]] = {}
    for clock in watched.iterator(chunk_size=_BATCH):
        item = clock.item
        if item.engagement_id not in policies:
            policies[item.engagement_id] = list(
                SlaPolicy.objects.filter(engagement_id=item.engagement_id)
            )
        policy = policy_for(item, policies[item.engagement_id])
        if policy is None:
            continue
        said_warnings, said_steps = _announce(clock, policy, now)
        warnings += said_warnings
        escalations += said_steps
    return WatchRun(replayed=replayed, warnings=warnings, escalations=escalations)


def _announce(clock: SlaClock, policy: SlaPolicy, now: dt.datetime) -> tuple[int, int]:
    """Say what ``clock`` has newly reached; how many warnings and steps were said.

    The clock is read again under its row lock, so two watches running at once
    never say the same thing twice.
    """
    with transaction.atomic():
        fresh = SlaClock.objects.select_for_update().filter(pk=clock.pk).order_by().first()
        if fresh is None:
            return 0, 0
        fresh.item = clock.item
        return _announce_locked(fresh, policy, now)


def _announce_locked(clock: SlaClock, policy: SlaPolicy, now: dt.datetime) -> tuple[int, int]:
    used = clock.elapsed_seconds / clock.target_seconds * 100 if clock.target_seconds else 0
    breached = clock.status == ClockStatus.BREACHED.value
    if breached:
        used = max(used, 100.0)
    levels = [level for level in policy.warn_levels() if level <= used and level > clock.warned]
    steps = [
        (step, percent)
        for step, percent in policy.escalation_levels()
        if percent <= used
        and step > clock.escalation
        and not (step == 2 and clock.kind != ClockKind.TURNAROUND.value)
    ]
    if not levels and not steps and not (breached and clock.warned < 100):
        return 0, 0
    item = clock.item
    name = f"{ClockKind(clock.kind).label}{f' #{clock.cycle}' if clock.cycle > 1 else ''}"
    target = _hours(clock.target_seconds)
    due = _local(clock.due_at, item.engagement.time_zone)
    late = used >= 100
    with transaction.atomic():
        said = 0
        for level in levels:
            _note(item, now, "sla_warning", f"{name}: {level} % of {target} used; due {due}.")
            said += 1
        if breached and clock.warned < 100:
            _note(item, now, "sla_breached", f"{name}: the {target} target was missed (due {due}).")
            said += 1
            levels.append(100)
        for step, percent in steps:
            why = f"{name} at {percent} % of {target} (due {due})"
            _escalate(item, clock, step, why, now, late=late)
        SlaClock.objects.filter(pk=clock.pk).update(
            warned=max([clock.warned, *levels]),
            escalation=max([clock.escalation, *(step for step, _ in steps)]),
        )
        if said:
            missed = breached and 100 in levels
            _tell_after_commit(item, name, levels, missed=missed, due=due, due_at=clock.due_at)
        if steps:
            _escalated_after_commit(item, name, steps, late=late, due_at=clock.due_at)
    return said, len(steps)


def _tell_after_commit(
    item: WorkItem,
    name: str,
    levels: list[int],
    *,
    missed: bool,
    due: str,
    due_at: dt.datetime | None,
) -> None:
    """Send ``sla_warning`` (notifications listen) once the announcement has committed."""
    percent = max(levels)
    note = (
        f"{name}: the target was missed (due {due})."
        if missed
        else f"{name}: {percent} % of the target used; due {due}."
    )
    item_id = item.pk
    rowsecurity.on_commit_in_scope(
        lambda: sla_warning.send(
            sender=SlaClock,
            item_id=item_id,
            clock=name,
            percent=percent,
            breached=missed,
            due_at=due_at,
            note=note,
        )
    )


def _escalated_after_commit(
    item: WorkItem,
    name: str,
    steps: list[tuple[int, int]],
    *,
    late: bool,
    due_at: dt.datetime | None,
) -> None:
    """Send ``sla_escalated`` for each step just taken, once the steps have committed."""
    item_id = item.pk

    def send() -> None:
        for step, percent in steps:
            sla_escalated.send(
                sender=SlaClock,
                item_id=item_id,
                step=step,
                clock=name,
                percent=percent,
                late=late,
                due_at=due_at,
            )

    rowsecurity.on_commit_in_scope(send)


def _escalate(
    item: WorkItem, clock: SlaClock, step: int, why: str, now: dt.datetime, *, late: bool
) -> None:
    """Take one escalation step on ``item``: on its timeline and in the audit trail.

    The client's admins read the third step on the timeline: whether the item is
    late or only at risk of it (a ladder may tell them before the due time).
    """
    detail: dict[str, object] = {"clock": clock.kind, "cycle": clock.cycle, "step": step}
    if step == 1:
        _note(item, now, "sla_escalated", f"Operations lead alerted: {why}.")
        action = "sla.lead_alert"
    elif step == 2:
        fresh = WorkItem.objects.select_for_update().get(pk=item.pk)
        if fresh.priority >= Priority.URGENT:
            _note(item, now, "sla_escalated", f"Already urgent, so the priority stays: {why}.")
        else:
            raised = Priority(fresh.priority + 1)
            WorkItem.objects.filter(pk=item.pk).update(priority=raised.value, updated_at=now)
            _note(item, now, "sla_escalated", f"Priority raised to {raised.label}: {why}.")
            detail |= {"from": fresh.priority, "to": raised.value}
        action = "sla.priority_raised"
    else:
        standing = "late" if late else "at risk of being late"
        _note(
            item,
            now,
            "sla_escalated",
            f"Your admins have been told this item is {standing}: {why}. The provider's team "
            "lead is on it.",
            internal=False,
        )
        action = "sla.client_alert"
    record(actor=None, action=action, obj=item, client=item.client_id, at=now, detail=detail)


def _note(item: WorkItem, at: dt.datetime, kind: str, note: str, *, internal: bool = True) -> None:
    WorkItemEvent.objects.create(
        client_id=item.client_id, item=item, at=at, kind=kind, note=note, internal=internal
    )


def _hours(seconds: int) -> str:
    minutes = seconds // 60
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest:02d} min"
    return f"{hours} h" if hours else f"{rest} min"


def _local(at: dt.datetime | None, time_zone: str) -> str:
    """An instant as the client's office reads it: "Fri 3 Jul 17:00 (America/New_York)"."""
    if at is None:
        return "not set while paused"
    local = at.astimezone(ZoneInfo(time_zone))
    return f"{local:%a %-d %b %H:%M} ({time_zone})"
