"""API shapes for service levels: an item's clocks and attainment figures."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class ClockOut(Schema):
    """One SLA clock of an item, replayed from its timeline when asked."""

    kind: str
    cycle: int
    status: str
    business_time: bool
    target_minutes: float
    elapsed_minutes: float
    used_percent: float
    started_at: dt.datetime
    due_at: dt.datetime | None
    stopped_at: dt.datetime | None
    breached_at: dt.datetime | None
    paused_reason: str = Field(
        description="While paused: what the client was asked when the item was put on hold, "
        "or the pausing state (waiting_on_client) when nothing was said; empty otherwise."
    )


class ItemClocksOut(Schema):
    """Every clock of one item, and its hard deadline."""

    item_id: int
    deadline: dt.datetime | None
    clocks: list[ClockOut]


class AttainmentRowOut(Schema):
    """Met and missed targets of one group."""

    key: str
    label: str
    met: int
    breached: int
    decided: int
    attainment_percent: float | None


class AttainmentOut(Schema):
    """SLA attainment over a period (UTC days, both ends included), grouped, with the total."""

    kind: str
    group_by: str
    start: dt.date
    end: dt.date
    rows: list[AttainmentRowOut]
    total: AttainmentRowOut
