"""The demo's service levels: each client's business calendar and SLA policies, set the
way an account manager would after a month of work, then every clock replayed.

Targets are round figures a contract would name, picked from the history itself (the
time nine in ten items of a service actually took, rounded up), so attainment lands
where a healthy operation's does — around nine in ten, with misses to look at —
whatever seed or day the demo is built on.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.core.sla import ClockKind, ClockStatus
from relaydesk.sla.actions import do_replay_clocks, do_set_sla_policy, do_watch_clocks
from relaydesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from relaydesk.sla.queries import CalendarMeasure, calendar_rules
from relaydesk.work.models import WorkItem, WorkItemEvent

# Whose public holidays close each business-hours client (country, state).
HOLIDAYS = {
    "hartwell-cole": ("US", "FL"),
    "brightpath": ("US", "IL"),
    "meridian": ("US", "NY"),
}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The share of last month's items each target would have been met for.
_TARGET_SHARE = 0.9
_MINUTE = dt.timedelta(minutes=1)
# Fewer delivered items than this, and a target is a common contract's, not last month's.
_ENOUGH = 5


def create_calendar(
    slug: str, name: str, time_zone: str, hours: tuple[dt.time, dt.time, tuple[int, ...]]
) -> BusinessCalendar | None:
    """The client's office calendar, or None for a client whose every hour counts."""
    if slug not in HOLIDAYS:
        return None
    start, end, weekdays = hours
    first, last = _DAYS[min(weekdays)], _DAYS[max(weekdays)]
    country, state = HOLIDAYS[slug]
    return BusinessCalendar.objects.create(
        name=f"{name} office",
        time_zone=time_zone,
        working_hours=f"{first}-{last} {start:%H:%M}-{end:%H:%M}",
        holiday_country=country,
        holiday_subdivision=state,
    )


def _round_up(minutes: float, step: int) -> int:
    return max(step, math.ceil(minutes / step) * step)


def _quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def set_policies(actor: User, now: dt.datetime) -> int:
    """Each engagement's policies, from how long its items took; how many there are."""
    items = {
        i.pk: i
        for i in WorkItem.objects.select_related("engagement__calendar").filter(
            delivered_at__isnull=False
        )
    }
    started: dict[int, dt.datetime] = {}
    for item_id, at in (
        WorkItemEvent.objects.filter(item_id__in=list(items), to_state="in_progress")
        .order_by("-at", "-id")
        .values_list("item_id", "at")
    ):
        started[item_id] = at  # newest first, so the first start is written last
    measures: dict[int, CalendarMeasure] = {}
    taken: dict[tuple[int, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in items.values():
        assert item.delivered_at is not None
        engagement = item.engagement
        if engagement.pk not in measures:
            measures[engagement.pk] = CalendarMeasure(
                calendar_rules(engagement.calendar, engagement.time_zone)
            )
        measure = measures[engagement.pk]
        spans = taken[(engagement.pk, item.service_id)]
        spans["turnaround"].append(measure.between(item.created_at, item.delivered_at) / _MINUTE)
        if item.pk in started:
            spans["first"].append(measure.between(item.created_at, started[item.pk]) / _MINUTE)
    # Each engagement's default from all its work, then one per service with enough of it.
    for engagement_id, service_spans in _by_engagement(taken).items():
        overall: dict[str, list[float]] = defaultdict(list)
        for spans in service_spans.values():
            for name, values in spans.items():
                overall[name] += values
        scopes: list[tuple[int | None, dict[str, list[float]]]] = [(None, overall)]
        scopes += [(sid, spans) for sid, spans in sorted(service_spans.items())]
        engagement = Engagement.objects.get(pk=engagement_id)
        for service_id, spans in scopes:
            if service_id is not None and len(spans["turnaround"]) < _ENOUGH:
                continue
            _set_policy(actor, engagement, service_id, spans, now)
    for engagement in Engagement.objects.exclude(pk__in=[e for e, _ in taken]):
        _set_policy(actor, engagement, None, {}, now)
    return SlaPolicy.objects.count()


def _by_engagement(
    taken: dict[tuple[int, int], dict[str, list[float]]],
) -> dict[int, dict[int, dict[str, list[float]]]]:
    grouped: dict[int, dict[int, dict[str, list[float]]]] = defaultdict(dict)
    for (engagement_id, service_id), spans in taken.items():
        grouped[engagement_id][service_id] = spans
    return grouped


def _set_policy(
    actor: User,
    engagement: Engagement,
    service_id: int | None,
    spans: dict[str, list[float]],
    now: dt.datetime,
) -> None:
    """A policy from how long the work took, or a common contract's with too little of it."""
    first, turnaround = spans.get("first", []), spans.get("turnaround", [])
    do_set_sla_policy(
        actor,
        engagement,
        service=engagement.services.get(pk=service_id) if service_id else None,
        first_response_minutes=(
            _round_up(_quantile(first, _TARGET_SHARE), 15) if len(first) >= _ENOUGH else 60
        ),
        next_response_minutes=240,
        turnaround_minutes=(
            _round_up(_quantile(turnaround, _TARGET_SHARE), 60)
            if len(turnaround) >= _ENOUGH
            else 8 * 60
        ),
        at=now,
    )


def replay_every_clock(now: dt.datetime, say: Callable[[str], None]) -> str:
    """Replay every item's clocks, then the watch once; a line for the demo's log."""
    ids = list(WorkItem.objects.order_by("pk").values_list("pk", flat=True))
    step = 500
    for done in range(0, len(ids), step):
        do_replay_clocks(ids[done : done + step], at=now)
        if (done // step) % 4 == 3:
            say(f"service levels: {min(done + step, len(ids))} of {len(ids)} items replayed")
    watch = do_watch_clocks(at=now)
    outcomes = Counter(
        SlaClock.objects.filter(kind=ClockKind.TURNAROUND.value).values_list("status", flat=True)
    )
    met, missed = outcomes[ClockStatus.MET.value], outcomes[ClockStatus.BREACHED.value]
    share = f"{met / (met + missed) * 100:.1f} %" if met + missed else "–"
    return (
        f"service levels: turnaround met {share} ({met} of {met + missed}); "
        f"{watch.warnings} warning(s), {watch.escalations} escalation step(s) on open items"
    )
