"""The service-level API: an item's SLA clocks, and attainment figures."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema

from relaydesk.accounts.models import User
from relaydesk.core.sla import Clock, ClockKind
from relaydesk.figures import default_period
from relaydesk.routing.api import READ_ERRORS, visible_item
from relaydesk.sla.queries import AttainmentRow, attainment_figures, live_clocks
from relaydesk.sla.schemas import AttainmentOut, AttainmentRowOut, ClockOut, ItemClocksOut
from relaydesk.work.schemas import ErrorOut

router = Router(tags=["service levels"])


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


FIGURE_ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


def _clock_out(clock: Clock) -> ClockOut:
    return ClockOut(
        kind=clock.kind.value,
        cycle=clock.cycle,
        status=clock.status.value,
        business_time=clock.business,
        target_minutes=clock.target.total_seconds() / 60,
        elapsed_minutes=round(clock.elapsed.total_seconds() / 60, 2),
        used_percent=round(clock.used_percent, 1),
        started_at=clock.started_at,
        due_at=clock.due_at,
        stopped_at=clock.stopped_at,
        breached_at=clock.breached_at,
        paused_reason=clock.paused_reason,
    )


@router.get(
    "/work-items/{item_id}/sla",
    response={200: ItemClocksOut, **READ_ERRORS},
    summary="A work item's SLA clocks",
)
def item_clocks(request: HttpRequest, item_id: int) -> ItemClocksOut:
    """First response, next response and turnaround clocks as of now, replayed from the
    item's timeline on its engagement's policy and calendar. Empty when no policy covers
    the item."""
    item = visible_item(request, item_id)
    return ItemClocksOut(
        item_id=item.pk,
        deadline=item.deadline,
        clocks=[_clock_out(c) for c in live_clocks(item)],
    )


class AttainmentQuery(Schema):
    """Which figures: the clock, the period (UTC days; the last 30 by default), the grouping."""

    kind: Literal["first_response", "next_response", "turnaround"] = "turnaround"
    group_by: Literal["engagement", "service", "site", "agent", "month", "week"] = "engagement"
    start: dt.date | None = None
    end: dt.date | None = None
    engagement_id: int | None = None
    service_id: int | None = None


def _row_out(row: AttainmentRow) -> AttainmentRowOut:
    return AttainmentRowOut(
        key=row.key,
        label=row.label,
        met=row.met,
        breached=row.breached,
        decided=row.decided,
        attainment_percent=row.percent,
    )


@router.get(
    "/sla/attainment",
    response={200: AttainmentOut, **FIGURE_ERRORS},
    summary="SLA attainment figures",
)
def attainment(request: HttpRequest, query: Query[AttainmentQuery]) -> AttainmentOut:
    """How many targets of one clock kind were met and missed, by engagement, service,
    site, agent (the provider only), month or week — the figures the *Service levels* page
    and its CSV show. A client's people get their own client's figures."""
    start, end = default_period(query.start, query.end)
    figures = attainment_figures(
        _user(request),
        kind=ClockKind(query.kind),
        start=start,
        end=end,
        group_by=query.group_by,
        engagement_id=query.engagement_id,
        service_id=query.service_id,
    )
    return AttainmentOut(
        kind=figures.kind.value,
        group_by=figures.group_by,
        start=figures.start,
        end=figures.end,
        rows=[_row_out(r) for r in figures.rows],
        total=_row_out(figures.total),
    )
