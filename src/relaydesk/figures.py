"""What every figures page shares: the period asked for, the groupings, and their labels.

The service-level and quality figures are asked for the same way (UTC days, grouped by
engagement, service, site, agent, month or week) on their pages, in their CSV and in
the API; one definition here keeps them asking, checking and labelling alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import BigIntegerField, F, Func
from django.db.models.functions import ExtractHour, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.errors import Invalid, NotFound

__all__ = [
    "DEFAULT_DAYS",
    "EARLIEST",
    "GROUPINGS",
    "LATEST",
    "FiguresFilter",
    "check_figures_request",
    "default_period",
    "groupings_for",
    "key_text",
    "label_text",
    "utc_bounds",
]

GROUPINGS: dict[str, str] = {
    "engagement": "Engagement",
    "service": "Service",
    "site": "Site",
    "agent": "Agent",
    "month": "Month",
    "week": "Week",
}
#: The days figures can be asked for (anything outside is a typing slip).
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
#: The period shown when none is asked for: the last 30 UTC days, today included.
DEFAULT_DAYS = 30
# Who did the work is the provider's business: clients see their figures by the rest.
PROVIDER_ONLY_GROUPINGS = frozenset({"agent"})
# A longer period is a typing slip more often than a question.
MOST_DAYS = 366 * 3


def groupings_for(actor: User) -> dict[str, str]:
    """The groupings ``actor`` may ask for."""
    if actor.is_client_user:
        return {k: v for k, v in GROUPINGS.items() if k not in PROVIDER_ONLY_GROUPINGS}
    return dict(GROUPINGS)


def default_period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """Fill what a request left out: up to today (UTC), over the last :data:`DEFAULT_DAYS`."""
    end = end or timezone.now().astimezone(dt.UTC).date()
    if not EARLIEST <= end <= LATEST:
        raise Invalid(f"Ask for days between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")
    span = dt.timedelta(days=DEFAULT_DAYS - 1)
    return start or (end - span if end >= EARLIEST + span else EARLIEST), end


def check_figures_request(
    actor: User,
    *,
    start: dt.date,
    end: dt.date,
    group_by: str,
    engagement_id: int | None,
) -> None:
    """Refuse what no figures answer: a grouping ``actor`` may not use, a period out of
    order, out of range or longer than three years (:class:`Invalid`), or an engagement
    ``actor`` cannot see (:class:`NotFound`, as for one that does not exist)."""
    if group_by not in groupings_for(actor):
        raise Invalid(f"Group by one of: {', '.join(groupings_for(actor))}.")
    if end < start:
        raise Invalid("The period ends before it starts.")
    if start < EARLIEST or end > LATEST:
        raise Invalid(f"Ask for days between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")
    if (end - start).days > MOST_DAYS:
        raise Invalid("Ask for at most three years at a time.")
    if engagement_id is not None and not (
        visible_engagements(actor).filter(pk=engagement_id).exists()
    ):
        raise NotFound(f"No engagement {engagement_id}.")


def utc_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants from the start of UTC day ``start`` to the end of UTC day ``end``."""
    begin = dt.datetime.combine(start, dt.time(0), tzinfo=dt.UTC)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    return begin, finish


class UtcHour(ExtractHour):
    """``ExtractHour(column, tzinfo=UTC)``: the UTC hour of the day (0–23) of a time.

    On PostgreSQL it is exactly that (``EXTRACT(HOUR FROM … AT TIME ZONE 'UTC')``). On
    SQLite, where Django extracts through a Python function called once per row, the hour
    is read straight off the stored text (UTC, ``YYYY-MM-DD HH:MM:SS``), so grouping a
    month of items by hour stays in the database engine.
    """

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, tzinfo=dt.UTC, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.lhs)
        return f"CAST(substr({sql}, 12, 2) AS integer)", params


class UtcDate(TruncDate):
    """``TruncDate(column, tzinfo=UTC)``: the UTC day of a time, read off SQLite's stored
    text there (see :class:`UtcHour`)."""

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, tzinfo=dt.UTC, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.lhs)
        return f"substr({sql}, 1, 10)", params


class UtcWeek(TruncWeek):
    """``TruncWeek(column, tzinfo=UTC)``: the Monday 00:00 UTC starting the week of a time.

    Django truncates on SQLite through a Python function called once per row; there the
    week is worked out by SQLite's own date functions from the stored text (UTC), so a
    month of clocks is grouped inside the engine.
    """

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, tzinfo=dt.UTC, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.lhs)
        # The day (read off the text: SQLite rounds a time to the millisecond, which would
        # carry 23:59:59.9999 into the next day), on to its Sunday (itself if a Sunday),
        # then back six days: that week's Monday.
        return f"date(substr({sql}, 1, 10), 'weekday 0', '-6 days') || ' 00:00:00'", params


class UtcMonth(TruncMonth):
    """``TruncMonth(column, tzinfo=UTC)``, worked out by SQLite itself there (see
    :class:`UtcWeek`)."""

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, tzinfo=dt.UTC, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.lhs)
        return f"substr({sql}, 1, 7) || '-01 00:00:00'", params


def _sqlite_microseconds(sql: str) -> str:
    """Microseconds since 1970 of a time as SQLite stores it (UTC text, the fraction
    left out when it is zero), exactly: whole seconds by ``strftime``, then the digits."""
    return (
        f"(CAST(strftime('%%s', substr({sql}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({sql} || '.000000', 21, 6) AS INTEGER))"
    )


class MicrosecondsBetween(Func):
    """Microseconds from ``earlier`` to ``later``, exactly, computed by the engine.

    Django subtracts times on SQLite through a Python function called once per row;
    here SQLite's own functions read the stored text, so a month of deliveries stays in
    its C code. PostgreSQL subtracts natively (``EXTRACT`` of an interval is exact).
    """

    output_field = BigIntegerField()

    def __init__(self, later: str, earlier: str) -> None:
        super().__init__(F(later), F(earlier))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        later, earlier = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"({_sqlite_microseconds(later[0])} - {_sqlite_microseconds(earlier[0])})"
        return sql, (*later[1], *later[1], *earlier[1], *earlier[1])

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        later, earlier = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"CAST(EXTRACT(EPOCH FROM ({later[0]} - {earlier[0]})) * 1000000 AS bigint)"
        return sql, (*later[1], *earlier[1])


def key_text(value: object) -> str:
    """A group's key as text: an id, or the first day of a month or week."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return "" if value is None else str(value)


def label_text(group_by: str, value: object) -> str:
    """A group's name as people read it."""
    if isinstance(value, dt.datetime):
        day = value.date()
        return f"{day:%B %Y}" if group_by == "month" else f"Week of {day:%-d %b %Y}"
    if value is None:
        return "Nobody" if group_by == "agent" else "No site" if group_by == "site" else "–"
    return str(value)


class FiguresFilter(forms.Form):
    """The period, grouping, engagement and service a figures page shows (the API takes the
    same parameters). Subclasses add their own fields and defaults."""

    group_by = forms.ChoiceField(label="Grouped by", required=False)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))
    engagement: forms.ModelChoiceField[Engagement] = forms.ModelChoiceField(
        queryset=Engagement.objects.none(), required=False, empty_label="Every engagement"
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"), required=False, empty_label="Every service"
    )

    def __init__(self, actor: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_by"].choices = list(groupings_for(actor).items())  # type: ignore[attr-defined]
        self.fields["engagement"].queryset = visible_engagements(actor).order_by("name")  # type: ignore[attr-defined]
        self.default_group = "service" if actor.is_client_user else "engagement"

    @classmethod
    def defaults(cls, actor: User) -> dict[str, str]:
        """What the form shows when the query leaves a field out."""
        today = timezone.now().astimezone(dt.UTC).date()
        return {
            "group_by": "service" if actor.is_client_user else "engagement",
            "start": (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "end": today.isoformat(),
        }

    @classmethod
    def with_defaults(cls, actor: User, query: Mapping[str, str]) -> Any:
        """The filter bound to ``query``, the defaults filling what it leaves out (so the
        form shows what the figures are for)."""
        data = cls.defaults(actor)
        data.update({k: v for k, v in query.items() if v})
        return cls(actor, data)

    def clean(self) -> dict[str, Any]:
        """Fill what was left out with the defaults, and check the period."""
        data = super().clean() or {}
        data["group_by"] = data.get("group_by") or self.default_group
        try:
            data["start"], data["end"] = default_period(data.get("start"), data.get("end"))
        except Invalid as problem:
            self.add_error("end", problem.message)
            return data
        if data["end"] < data["start"]:
            self.add_error("end", "The period ends before it starts.")
        elif data["start"] < EARLIEST:
            self.add_error(
                "start", f"Ask for days between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}."
            )
        elif (data["end"] - data["start"]).days > MOST_DAYS:
            self.add_error("start", "Ask for at most three years at a time.")
        return data
