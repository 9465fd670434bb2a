"""Replaying SLA clocks: after every change of an item, of a policy or of a calendar."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.actions import record
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.core.permissions import Permission, can
from relaydesk.core.sla import Clock, ClockKind
from relaydesk.errors import Invalid, NotAllowed
from relaydesk.sla.models import SlaClock, SlaPolicy
from relaydesk.sla.queries import ReplayInputs
from relaydesk.tenancy import rowsecurity
from relaydesk.work.models import WorkItem

__all__ = [
    "do_replay_clocks",
    "do_replay_engagement",
    "do_set_sla_policy",
    "on_work_item_changed",
    "replay_after_change",
]

logger = logging.getLogger(__name__)


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
    inputs = ReplayInputs.read(items)
    with transaction.atomic():
        kept = {
            (c.item_id, c.kind, c.cycle): c
            for c in SlaClock.objects.select_for_update().filter(item_id__in=[i.pk for i in items])
        }
        seen: set[tuple[int, str, int]] = set()
        for item in items:
            clocks = inputs.clocks(item, now)
            seen |= _store(item, clocks, kept, now)
            turnaround = next((c for c in clocks if c.kind is ClockKind.TURNAROUND), None)
            # Without a turnaround target the item is due by its hard deadline, if it has one.
            due = turnaround.due_at if turnaround is not None else item.deadline or item.due_at
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
            client_id=item.client_id, item=item, kind=clock.kind.value, cycle=clock.cycle
        )
        row.status = clock.status.value
        row.business = clock.business
        row.target_seconds = int(clock.target.total_seconds())
        row.elapsed_seconds = int(clock.elapsed.total_seconds())
        row.started_at = clock.started_at
        row.due_at = clock.due_at
        row.stopped_at = clock.stopped_at
        row.breached_at = clock.breached_at
        row.paused_reason = clock.paused_reason[:200]
        row.replayed_at = now
        row.save()
        written.add(key)
    return written


def do_replay_engagement(engagement_id: int, *, at: dt.datetime | None = None) -> int:
    """Replay every open item of one engagement (after its policies or calendar changed)."""
    open_items = WorkItem.objects.filter(engagement_id=engagement_id).exclude(
        Q(state__in=["accepted", "cancelled"])
    )
    ids = list(open_items.values_list("pk", flat=True))
    done = 0
    for start in range(0, len(ids), 500):
        done += do_replay_clocks(ids[start : start + 500], at=at)
    return done


def on_work_item_changed(sender: object, item_id: int, **kwargs: object) -> None:
    """After a committed change of an item (or a new comment on it): replay its clocks.

    A failure is logged and left to the watch, which replays open items again;
    it never fails the change that was just committed.
    """
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
    source_ip: str | None = None,
    at: dt.datetime | None = None,
) -> SlaPolicy:
    """Set the engagement's SLA policy for one service and priority (or all of either).

    Replaces the policy of the same scope, if there is one. Once committed, the
    clocks of the engagement's open items are replayed on the new terms, so their
    due times move with it.
    """
    if not can(actor.role_enum, Permission.CONFIGURE_SLA):
        raise NotAllowed("Your role cannot set SLA policies.")
    at = at or timezone.now()
    with transaction.atomic():
        policy = (
            SlaPolicy.objects.select_for_update()
            .filter(engagement=engagement, service=service, priority=priority)
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
