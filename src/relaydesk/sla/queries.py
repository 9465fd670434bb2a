"""Reading SLA clocks: an item's clocks replayed from its timeline, and what they read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.core.calendars import BusinessCalendar as CalendarRules
from relaydesk.core.calendars import add_business_time, business_time_between
from relaydesk.core.roles import Role
from relaydesk.core.sla import Clock, ClockKind, SlaTerms, Target, TimelineEntry, replay
from relaydesk.sla.models import BusinessCalendar, SlaPolicy
from relaydesk.work.models import WorkItem, WorkItemEvent

__all__ = [
    "CalendarMeasure",
    "ReplayInputs",
    "calendar_rules",
    "live_clocks",
    "policy_for",
    "terms_for",
    "timeline_for",
]

_CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN.value, Role.CLIENT_MEMBER.value})
# Rules built from a calendar, by (calendar id, when it last changed): reading holidays
# and parsing hours once per process, not once per item.
_RULES: dict[tuple[int, dt.datetime], CalendarRules] = {}


class CalendarMeasure:
    """Business time on one calendar, as :class:`relaydesk.core.sla.TimeMeasure` wants it."""

    def __init__(self, rules: CalendarRules) -> None:
        self.rules = rules

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant ``duration`` of business time after ``start``."""
        return add_business_time(self.rules, start, duration)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from ``start`` to ``end``."""
        return business_time_between(self.rules, start, end)


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
    beats the engagement's default.
    """
    best: tuple[int, SlaPolicy] | None = None
    for policy in policies:
        if policy.engagement_id != item.engagement_id:
            continue
        if policy.service_id not in (None, item.service_id):
            continue
        if policy.priority is not None and policy.priority != item.priority:
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
    (``client_roles``: actor id -> True for the client's people).
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
    def read(cls, items: list[WorkItem]) -> ReplayInputs:
        """Read everything the replay of ``items`` needs, in three queries."""
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
        policies: dict[int, list[SlaPolicy]] = defaultdict(list)
        for policy in SlaPolicy.objects.filter(engagement_id__in={i.engagement_id for i in items}):
            policies[policy.engagement_id].append(policy)
        return cls(events, client_roles, policies)

    def clocks(self, item: WorkItem, now: dt.datetime) -> list[Clock]:
        """``item``'s clocks as of ``now`` (its engagement and calendar already loaded)."""
        engagement = item.engagement
        measure = CalendarMeasure(calendar_rules(engagement.calendar, engagement.time_zone))
        terms = terms_for(item, policy_for(item, self.policies[item.engagement_id]))
        timeline = timeline_for(self.events[item.pk], self.client_roles)
        return replay(timeline, terms, business=measure, now=now)


def live_clocks(item: WorkItem, *, at: dt.datetime | None = None) -> list[Clock]:
    """``item``'s clocks replayed now, for showing (nothing is written)."""
    return ReplayInputs.read([item]).clocks(item, at or timezone.now())
