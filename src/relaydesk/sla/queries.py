"""Reading SLA clocks: an item's clocks replayed from its timeline, and what they read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.core.calendars import BusinessCalendar as CalendarRules
from relaydesk.core.calendars import CalendarMeasure
from relaydesk.core.permissions import Permission, can
from relaydesk.core.roles import Role
from relaydesk.core.sla import Attainment as ClockAttainment
from relaydesk.core.sla import (
    Clock,
    ClockKind,
    ClockStatus,
    SlaTerms,
    Target,
    TimelineEntry,
    replay,
)
from relaydesk.errors import NotAllowed
from relaydesk.figures import (
    UtcMonth,
    UtcWeek,
    check_figures_request,
    key_text,
    label_text,
    utc_bounds,
)
from relaydesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from relaydesk.work.models import WorkItem, WorkItemEvent

__all__ = [
    "Attainment",
    "AttainmentRow",
    "CalendarMeasure",
    "ReplayInputs",
    "attainment_figures",
    "calendar_rules",
    "live_clocks",
    "policies_of",
    "policy_for",
    "terms_for",
    "timeline_for",
]

_CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN.value, Role.CLIENT_MEMBER.value})
# Rules built from a calendar, by (calendar id, when it last changed): reading holidays
# and parsing hours once per process, not once per item.
_RULES: dict[tuple[int, dt.datetime], CalendarRules] = {}


def calendar_rules(calendar: BusinessCalendar | None, time_zone: str) -> CalendarRules:
    """The rules of ``calendar``; open around the clock in ``time_zone`` when there is none."""
    if calendar is None:
        return CalendarRules.twenty_four_seven(time_zone)
    key = (calendar.pk, calendar.updated_at)
    rules = _RULES.get(key)
    if rules is None:
        if len(_RULES) > 256:
            _RULES.clear()
        rules = _RULES[key] = calendar.rules()
    return rules


def policy_for(item: WorkItem, policies: Iterable[SlaPolicy]) -> SlaPolicy | None:
    """The most specific of the engagement's ``policies`` that covers ``item``.

    Service and priority beat service alone, which beats priority alone, which
    beats the engagement's default. The priority is the one the item was
    submitted with (an escalation's raise keeps the promise it had).
    """
    priority = item.promised_priority if item.promised_priority is not None else item.priority
    best: tuple[int, SlaPolicy] | None = None
    for policy in policies:
        if policy.engagement_id != item.engagement_id:
            continue
        if policy.service_id not in (None, item.service_id):
            continue
        if policy.priority is not None and policy.priority != priority:
            continue
        rank = (2 if policy.service_id else 0) + (1 if policy.priority is not None else 0)
        if best is None or rank > best[0]:
            best = (rank, policy)
    return best[1] if best else None


def terms_for(item: WorkItem, policy: SlaPolicy | None) -> SlaTerms:
    """What ``item`` is promised under ``policy`` (only its hard deadline without one)."""
    targets: list[Target] = []
    if policy is not None:
        for kind, minutes, business in (
            (
                ClockKind.FIRST_RESPONSE,
                policy.first_response_minutes,
                policy.first_response_business,
            ),
            (ClockKind.NEXT_RESPONSE, policy.next_response_minutes, policy.next_response_business),
            (ClockKind.TURNAROUND, policy.turnaround_minutes, policy.turnaround_business),
        ):
            if minutes:
                targets.append(Target(kind, dt.timedelta(minutes=minutes), business))
    return SlaTerms(
        targets=tuple(targets),
        hard_deadline=item.deadline,
        warn_at=policy.warn_levels() if policy is not None else (),
    )


def timeline_for(
    events: Iterable[WorkItemEvent], client_roles: dict[int, bool]
) -> list[TimelineEntry]:
    """The clocks' view of an item's timeline.

    A comment the client can read is a provider's reply when a provider person
    wrote it and a client message when someone of the client did
    (``client_roles``: actor id -> True for the client's people). A move's note
    (what the client was asked when the item was put on hold) goes with it when
    the client may read it: a pause shows it as its reason to everyone who sees
    the clocks, the client included.
    """
    entries = []
    for event in events:
        comment = event.kind == "commented" and not event.internal and event.actor_id is not None
        from_client = comment and client_roles.get(event.actor_id or 0, False)
        entries.append(
            TimelineEntry(
                at=event.at,
                to_state=event.to_state,
                provider_reply=comment and not from_client,
                client_message=bool(from_client),
                note=event.note if event.to_state and not event.internal else "",
            )
        )
    return entries


class ReplayInputs:
    """What replaying some items' clocks reads: timelines, who wrote comments, policies."""

    def __init__(
        self,
        events: dict[int, list[WorkItemEvent]],
        client_roles: dict[int, bool],
        policies: dict[int, list[SlaPolicy]],
    ) -> None:
        self.events = events
        self.client_roles = client_roles
        self.policies = policies

    @classmethod
    def read(
        cls, items: list[WorkItem], policies: dict[int, list[SlaPolicy]] | None = None
    ) -> ReplayInputs:
        """Read everything the replay of ``items`` needs (``policies`` if already read)."""
        events: dict[int, list[WorkItemEvent]] = defaultdict(list)
        for event in WorkItemEvent.objects.filter(item_id__in=[i.pk for i in items]).order_by(
            "item_id", "at", "id"
        ):
            events[event.item_id].append(event)
        actors = {e.actor_id for evs in events.values() for e in evs if e.kind == "commented"}
        client_roles = {
            pk: role in _CLIENT_ROLES
            for pk, role in User.objects.filter(pk__in=[a for a in actors if a]).values_list(
                "pk", "role"
            )
        }
        if policies is None:
            policies = policies_of(items)
        return cls(events, client_roles, policies)

    def clocks(self, item: WorkItem, now: dt.datetime) -> list[Clock]:
        """``item``'s clocks as of ``now`` (its engagement and calendar already loaded)."""
        engagement = item.engagement
        measure = CalendarMeasure(calendar_rules(engagement.calendar, engagement.time_zone))
        terms = terms_for(item, policy_for(item, self.policies[item.engagement_id]))
        timeline = timeline_for(self.events[item.pk], self.client_roles)
        return replay(timeline, terms, business=measure, now=now)


def policies_of(items: Iterable[WorkItem]) -> dict[int, list[SlaPolicy]]:
    """The SLA policies of the engagements of ``items``, by engagement id (one query)."""
    policies: dict[int, list[SlaPolicy]] = defaultdict(list)
    for policy in SlaPolicy.objects.filter(engagement_id__in={i.engagement_id for i in items}):
        policies[policy.engagement_id].append(policy)
    return policies


def live_clocks(item: WorkItem, *, at: dt.datetime | None = None) -> list[Clock]:
    """``item``'s clocks replayed now, for showing (nothing is written)."""
    return ReplayInputs.read([item]).clocks(item, at or timezone.now())


# --- attainment -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttainmentRow(ClockAttainment):
    """Met and breached clocks of one group (an engagement, a service, a site, a month …)."""

    key: str = ""
    label: str = ""

    @property
    def percent(self) -> float | None:
        """Met as a share of decided clocks, in per cent to one decimal; None without any."""
        share = ClockAttainment.percent.fget(self)  # type: ignore[attr-defined]
        return None if share is None else round(share, 1)


@dataclass(frozen=True, slots=True)
class Attainment:
    """SLA attainment of one clock kind over a period, by one grouping, with the total."""

    kind: ClockKind
    group_by: str
    start: dt.date
    end: dt.date
    rows: list[AttainmentRow]
    total: AttainmentRow


def attainment_figures(
    actor: User,
    *,
    kind: ClockKind,
    start: dt.date,
    end: dt.date,
    group_by: str = "engagement",
    engagement_id: int | None = None,
    service_id: int | None = None,
) -> Attainment:
    """SLA attainment for ``actor``: clocks of ``kind`` decided from ``start`` to ``end``.

    The one definition every page, export and API answer uses. A clock is
    decided when it has an outcome: met when it stopped in time (counted on the
    day it stopped), breached when it passed its due time (counted on the day
    it did, whether or not it has stopped since). Days are UTC days, ``end``
    included. A client's people see their own client's figures only; the provider
    sees every client. Counted by the database, grouped by ``group_by`` (see
    :data:`relaydesk.figures.GROUPINGS`). A request no figures answer is refused by
    :func:`relaydesk.figures.check_figures_request`.
    """
    if not can(actor.role_enum, Permission.VIEW_SERVICE_LEVELS):
        raise NotAllowed("Your role does not see SLA figures.")
    check_figures_request(
        actor, start=start, end=end, group_by=group_by, engagement_id=engagement_id
    )
    begin, finish = utc_bounds(start, end)
    # A miss counts on the day it happened, whenever the clock stops after it. The two
    # outcomes are counted apart, each narrowed on its own time column by an index of
    # the client, the kind, the status and that time.
    key, label = _group_columns(group_by)
    counts: dict[object, dict[str, Any]] = {}
    for status, column in ((ClockStatus.MET, "stopped_at"), (ClockStatus.BREACHED, "breached_at")):
        clocks = SlaClock.objects.filter(
            kind=kind.value,
            status=status.value,
            **{f"{column}__gte": begin, f"{column}__lt": finish},
        )
        if actor.is_client_user:
            clocks = clocks.filter(client_id=actor.client_id or 0)
        if engagement_id is not None:
            clocks = clocks.filter(engagement_id=engagement_id)
        if service_id is not None:
            clocks = clocks.filter(service_id=service_id)
        if group_by == "month":
            clocks = clocks.annotate(bucket=UtcMonth(column))
        elif group_by == "week":
            clocks = clocks.annotate(bucket=UtcWeek(column))
        grouped = ("holder_id",) if group_by == "agent" else (key, label)
        for row in clocks.values(*grouped).annotate(n=Count("pk")).order_by():
            value = row[grouped[0]]
            found = counts.setdefault(value, {"label": row[grouped[-1]], "met": 0, "breached": 0})
            found[status.value] += row["n"]
    if group_by == "agent":
        names = dict(
            User.objects.filter(pk__in=[k for k in counts if k]).values_list("pk", "full_name")
        )
        for value, found in counts.items():
            found["label"] = names.get(value)  # type: ignore[call-overload]
    rows = [
        AttainmentRow(
            key=key_text(value),
            label=label_text(group_by, found["label"]),
            met=found["met"],
            breached=found["breached"],
        )
        for value, found in sorted(counts.items(), key=lambda pair: _sort_key(pair[0]))
    ]
    total = AttainmentRow(
        key="total",
        label="All",
        met=sum(r.met for r in rows),
        breached=sum(r.breached for r in rows),
    )
    return Attainment(kind=kind, group_by=group_by, start=start, end=end, rows=rows, total=total)


def _sort_key(value: object) -> tuple[bool, Any]:
    """Groups in the order of their key (ids, or the first day of a week or month), the
    group without one (no site, nobody) last."""
    return (value is None, value if value is not None else 0)


def _group_columns(group_by: str) -> tuple[str, str]:
    """The value to group on and the label to show, as ``values()`` names."""
    if group_by in ("month", "week"):
        return "bucket", "bucket"
    # Every grouping reads the clock's own columns: no item is read.
    return {
        "engagement": ("engagement_id", "engagement__name"),
        "service": ("service_id", "service__name"),
        "site": ("holder__agent__site_id", "holder__agent__site__name"),
        "agent": ("holder_id", "holder__full_name"),
    }[group_by]
