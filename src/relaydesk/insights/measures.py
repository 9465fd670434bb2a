"""The work items' roll-up (:class:`ItemMeasure`, and :class:`HandledSlice` for their time
in progress hour by hour), kept in step with their timelines.

Every committed change of an item replays that one item's timeline into its rows
(:func:`on_work_item_changed`, connected by :func:`connect_measures`); the migrations
that created the tables filled them for the items already there, and
:func:`do_rebuild_measures` (``relaydesk rebuild-measures``) replays every item again
to repair them. Dashboards then count and sum rows here in the database.

Definitions, the same everywhere:

- *handled time* is the time an item spent in progress, summed over its ended spells:
  from each move into "in progress" to the next move out of it (waiting on the client,
  completion, reassignment, cancellation). A spell still running counts once it ends.
- *completed* is the item's last completion (an item completed again after rework counts
  once, when it was last completed); its agent is who completed it then, its site that
  agent's site. The item's whole handled time counts for that agent.
- a *slice* is the part of an ended spell inside one UTC hour; the spell is counted for
  the person who started the work it belongs to (the last "start" before it: a spell
  resumed after waiting on the client is still that person's), so the hours an item
  spent with each of its agents count for them, on the days they spent them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum

from relaydesk.audit.actions import record
from relaydesk.core.lifecycle import Action, State
from relaydesk.insights.daily import forget_all_days
from relaydesk.insights.measure_models import HandledSlice, ItemMeasure
from relaydesk.insights.ops_daily import (
    MEASURE_COLUMNS,
    SLICE_COLUMNS,
    forget_all_operations_days,
    forget_item_days,
)
from relaydesk.work.models import WorkItem, WorkItemEvent

__all__ = [
    "MEASURE_FIELDS",
    "Replayed",
    "Spell",
    "backfill_measures",
    "connect_measures",
    "do_rebuild_measures",
    "handled_hours",
    "handled_seconds_total",
    "measures_paused",
    "on_work_item_changed",
    "refresh_measure",
    "replay_timeline",
    "slices_of",
]

logger = logging.getLogger(__name__)

_IN_PROGRESS = State.IN_PROGRESS.value
_COMPLETE = Action.COMPLETE.value
_START = Action.START.value
_HOUR = dt.timedelta(hours=1)
#: Items replayed per batch by the backfill and the rebuild.
BATCH = 2000
#: What a replay writes over a stored row.
MEASURE_FIELDS = [
    "client",
    "engagement",
    "service",
    "site",
    "agent",
    "created_at",
    "delivered_at",
    "handled_seconds",
    "first_started_at",
    "completed_at",
]
#: One timeline entry as the replay reads it: when, what, the state it moved to, who did
#: it and that person's site.
Entry = tuple[dt.datetime, str, str, int | None, int | None]


@dataclass(frozen=True, slots=True)
class Spell:
    """One ended spell in progress: from ``started_at`` to ``ended_at``, worked by the
    person ``agent_id`` (who started the work; None when the timeline does not say)."""

    started_at: dt.datetime
    ended_at: dt.datetime
    agent_id: int | None


@dataclass(frozen=True, slots=True)
class Replayed:
    """What an item's timeline adds up to (see the module's definitions)."""

    handled_seconds: int = 0
    first_started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    agent_id: int | None = None
    site_id: int | None = None
    spells: tuple[Spell, ...] = ()


def replay_timeline(entries: Iterable[Entry]) -> Replayed:
    """Replay an item's lifecycle entries, oldest first, into its measures.

    Entries without a state change (comments, files, SLA notices) may be left out or
    passed along: only moves between states and completions count.
    """
    handled = dt.timedelta(0)
    spell_start: dt.datetime | None = None
    first_started: dt.datetime | None = None
    completed: dt.datetime | None = None
    agent_id: int | None = None
    site_id: int | None = None
    # Who started the work, and whose the running spell is.
    worker: int | None = None
    spell_worker: int | None = None
    spells: list[Spell] = []
    for at, kind, to_state, actor_id, actor_site_id in entries:
        if kind == _START:
            worker = actor_id
        if to_state:
            if spell_start is not None and to_state != _IN_PROGRESS:
                # A clock set back between two entries never makes handled time negative.
                if at > spell_start:
                    handled += at - spell_start
                    spells.append(Spell(spell_start, at, spell_worker))
                spell_start = None
            elif to_state == _IN_PROGRESS and spell_start is None:
                spell_start, spell_worker = at, worker
                first_started = first_started or at
        if kind == _COMPLETE:
            completed, agent_id, site_id = at, actor_id, actor_site_id
    return Replayed(
        handled_seconds=int(handled.total_seconds()),
        first_started_at=first_started,
        completed_at=completed,
        agent_id=agent_id,
        site_id=site_id,
        spells=tuple(spells),
    )


def slices_of(spells: Iterable[Spell]) -> Iterator[tuple[dt.datetime, dt.datetime, dt.datetime]]:
    """Each spell cut at the UTC hours it spans: ``(hour, start, end)`` per piece, ``hour``
    the first instant of the UTC hour holding the piece (times in UTC)."""
    for spell in spells:
        at, end = spell.started_at.astimezone(dt.UTC), spell.ended_at.astimezone(dt.UTC)
        while at < end:
            hour = at.replace(minute=0, second=0, microsecond=0)
            upto = min(hour + _HOUR, end)
            yield hour, at, upto
            at = upto


def _measure(measure_model: Any, item: Sequence[Any], replayed: Replayed) -> Any:
    """The row of ``item`` (id, client, engagement, service, created, delivered)."""
    item_id, client_id, engagement_id, service_id, created_at, delivered_at = item
    return measure_model(
        item_id=item_id,
        client_id=client_id,
        engagement_id=engagement_id,
        service_id=service_id,
        site_id=replayed.site_id,
        agent_id=replayed.agent_id,
        created_at=created_at,
        delivered_at=delivered_at,
        handled_seconds=replayed.handled_seconds,
        first_started_at=replayed.first_started_at,
        completed_at=replayed.completed_at,
    )


def _slices(handled_model: Any, item: Sequence[Any], replayed: Replayed) -> list[Any]:
    """The slice rows of ``item`` (id, client, engagement, …) from its replayed spells."""
    item_id, client_id, engagement_id = item[:3]
    return [
        handled_model(
            item_id=item_id,
            client_id=client_id,
            engagement_id=engagement_id,
            agent_id=spell.agent_id,
            hour=hour,
            started_at=start,
            ended_at=end,
            seconds=round((end - start).total_seconds()),
        )
        for spell in replayed.spells
        for hour, start, end in slices_of([spell])
    ]


def _upsert(measure_model: Any, rows: list[Any]) -> None:
    """Insert the rows, or write over the stored ones of the same items."""
    if rows:
        measure_model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["item"], update_fields=MEASURE_FIELDS
        )


_ITEM_COLUMNS = ("pk", "client_id", "engagement_id", "service_id", "created_at", "delivered_at")
_ENTRY_COLUMNS = ("at", "kind", "to_state", "actor_id", "actor__agent__site_id")


def refresh_measure(item_id: int) -> ItemMeasure | None:
    """Replay one item's timeline into its row and its slices: one read (the timeline with
    the item and each actor's site), one of the row and slices it replaces, and the writes.
    ``None`` when the item cannot be read.

    In one transaction with the writes, the operations dashboard's roll-up forgets the
    settled days on which the item's completion, arrival or time in progress moved.
    """
    lifecycle = WorkItemEvent.objects.filter(item_id=item_id).exclude(to_state="")
    read = list(
        lifecycle.order_by("at", "id").values_list(
            *_ENTRY_COLUMNS, *(f"item__{column}" for column in _ITEM_COLUMNS)
        )
    )
    if read:
        item: Sequence[Any] = read[0][len(_ENTRY_COLUMNS) :]
    else:
        # Every item has its submission on its timeline; this is for one that has not.
        found = WorkItem.objects.filter(pk=item_id).values_list(*_ITEM_COLUMNS).first()
        if found is None:
            return None
        item = found
    replayed = replay_timeline(row[: len(_ENTRY_COLUMNS)] for row in read)
    measure: ItemMeasure = _measure(ItemMeasure, item, replayed)
    slices = _slices(HandledSlice, item, replayed)
    with transaction.atomic():
        before = ItemMeasure.objects.filter(item_id=item_id).values_list(*MEASURE_COLUMNS).first()
        slices_before = HandledSlice.objects.filter(item_id=item_id).values_list(*SLICE_COLUMNS)
        forget_item_days(
            before,
            tuple(getattr(measure, column) for column in MEASURE_COLUMNS),
            list(slices_before),
            [tuple(getattr(row, column) for column in SLICE_COLUMNS) for row in slices],
        )
        _upsert(ItemMeasure, [measure])
        _replace_slices(HandledSlice, item_id, item_id, slices)
    return measure


def _replace_slices(handled_model: Any, first: int, last: int, rows: list[Any]) -> None:
    """The slices of the items ``first`` to ``last`` (ids) replaced by ``rows``."""
    handled_model.objects.filter(item_id__gte=first, item_id__lte=last).delete()
    if rows:
        handled_model.objects.bulk_create(rows, batch_size=BATCH)


_paused: ContextVar[bool] = ContextVar("measures_paused", default=False)


@contextmanager
def measures_paused() -> Iterator[None]:
    """No replay after each change inside the block: for writing a long history at once
    (the demo), followed by :func:`backfill_measures` or :func:`do_rebuild_measures`."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def on_work_item_changed(sender: object, item_id: int, **kwargs: object) -> None:
    """After a committed change of an item: replay its row of the roll-up.

    A failure is logged and never fails the change that was just committed; the
    row is repaired by the next change of the item or by ``relaydesk rebuild-measures``.
    Runs in a savepoint, so a failed write leaves the transaction usable for the other
    receivers.
    """
    if _paused.get():
        return
    try:
        with transaction.atomic():
            refresh_measure(item_id)
    except Exception:
        logger.exception("The measures of item %s could not be replayed", item_id)


def connect_measures() -> None:
    """Keep the roll-up in step with every committed change of an item (called once at
    start-up, from the app's ``ready()``; connecting again changes nothing)."""
    from relaydesk.work.signals import work_item_changed

    work_item_changed.connect(on_work_item_changed, dispatch_uid="insights-measures")


def backfill_measures(
    *,
    item_model: Any = WorkItem,
    event_model: Any = WorkItemEvent,
    measure_model: Any | None = ItemMeasure,
    handled_model: Any | None = HandledSlice,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Replay every item's timeline into its row and its slices, ``batch`` items at a time
    (one read of items, one of their timelines and the writes per batch). Returns how
    many items.

    Takes the models so the migrations that create the tables can pass their historical
    ones (None: that table is left alone). ``progress(done, total)`` is called after each
    batch.
    """
    total = item_model.objects.count()
    done = 0
    last = 0
    while True:
        items = list(
            item_model.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list(*_ITEM_COLUMNS)[:batch]
        )
        if not items:
            break
        first, last = items[0][0], items[-1][0]
        timelines: dict[int, list[Entry]] = defaultdict(list)
        # A range of ids walks the timeline index (item, at) without a long IN list.
        entries = (
            event_model.objects.filter(item_id__gte=first, item_id__lte=last)
            .exclude(to_state="")
            .order_by("item_id", "at", "id")
            .values_list("item_id", *_ENTRY_COLUMNS)
        )
        for item_id, *entry in entries:
            timelines[item_id].append(tuple(entry))
        replayed = [(i, replay_timeline(timelines.get(i[0], ()))) for i in items]
        with transaction.atomic():
            if measure_model is not None:
                _upsert(measure_model, [_measure(measure_model, i, r) for i, r in replayed])
            if handled_model is not None:
                slices = [s for i, r in replayed for s in _slices(handled_model, i, r)]
                _replace_slices(handled_model, first, last, slices)
        done += len(items)
        if progress is not None:
            progress(done, total)
    return done


def do_rebuild_measures(
    *, progress: Callable[[int, int], None] | None = None, at: dt.datetime | None = None
) -> int:
    """Replay every item's row of the roll-up from its timeline, and drop the client and
    operations dashboards' daily roll-ups (counted again as they are shown), for repair;
    returns how many items. Runs for the provider (the operator's command); each batch is its own
    transaction, so a long rebuild holds no lock for long, and the audit trail records the
    rebuild once it is done."""
    done = backfill_measures(progress=progress)
    dropped = forget_all_days()
    operations_dropped = forget_all_operations_days()
    with transaction.atomic():
        record(
            actor=None,
            action="insights.rebuild_measures",
            obj=None,
            detail={
                "items": done,
                "daily_roll_up_days_dropped": dropped,
                "operations_roll_up_days_dropped": operations_dropped,
            },
            at=at,
        )
    return done


def handled_seconds_total(
    *,
    client_id: int | None = None,
    engagement_id: int | None = None,
    service_id: int | None = None,
    begin: dt.datetime,
    finish: dt.datetime,
) -> int:
    """Handled time, in seconds, of the items completed from ``begin`` up to ``finish``
    (last completion, see the module's definitions), optionally of one client, engagement
    or service. Summed by the database; the caller decides who may see it."""
    measures = ItemMeasure.objects.filter(completed_at__gte=begin, completed_at__lt=finish)
    if client_id is not None:
        measures = measures.filter(client_id=client_id)
    if engagement_id is not None:
        measures = measures.filter(engagement_id=engagement_id)
    if service_id is not None:
        measures = measures.filter(service_id=service_id)
    total = measures.aggregate(total=Sum("handled_seconds"))["total"]
    return int(total or 0)


def handled_hours(
    *,
    client_id: int | None = None,
    engagement_id: int | None = None,
    service_id: int | None = None,
    begin: dt.datetime,
    finish: dt.datetime,
) -> Decimal:
    """:func:`handled_seconds_total` in hours, exact to the second (for per-hour cost)."""
    seconds = handled_seconds_total(
        client_id=client_id,
        engagement_id=engagement_id,
        service_id=service_id,
        begin=begin,
        finish=finish,
    )
    return Decimal(seconds) / Decimal(3600)
