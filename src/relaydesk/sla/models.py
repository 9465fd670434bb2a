"""Service levels: business calendars, the SLA policies engagements promise, and each
item's clocks as last replayed from its timeline."""

from __future__ import annotations

import datetime as dt
import re
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from relaydesk.clients.models import validate_time_zone
from relaydesk.core.calendars import BusinessCalendar as CalendarRules
from relaydesk.core.calendars import Span, public_holidays
from relaydesk.core.sla import ClockKind, ClockStatus
from relaydesk.work.models import Priority

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The escalation ladder of a policy: its fields, in the order they are reached, and what
# each step does. A step goes up to ten times a target (a one-hour first response told
# to the client ten hours in); anything higher is a slip of the keyboard.
ESCALATION_STEPS = (
    ("lead_at", "alerting the operations lead"),
    ("raise_priority_at", "raising the priority"),
    ("client_at", "telling the client's admins"),
)
ESCALATION_MAX_PERCENT = 1000
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _time(hours: str, minutes: str, *, end: bool) -> dt.time:
    h, m = int(hours), int(minutes)
    if end and (h, m) == (24, 0):
        return dt.time(0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError
    return dt.time(h, m)


def parse_spans(text: str, *, where: str) -> tuple[Span, ...]:
    """``09:00-12:30 13:30-18:00`` as spans; a ValidationError names ``where`` otherwise."""
    spans = []
    for part in text.replace(",", " ").split():
        found = _SPAN.match(part)
        try:
            if found is None:
                raise ValueError
            start = _time(found[1], found[2], end=False)
            end = _time(found[3], found[4], end=True)
            spans.append(Span(start, end))
        except ValueError:
            raise ValidationError(
                f"{where}: “{part}” is not a span of hours such as 09:00-17:30 "
                "(24:00 for midnight at the end of the day)."
            ) from None
    try:
        CalendarRules(time_zone="UTC", weekly=(tuple(spans),) + ((),) * 6)
    except ValueError as problem:
        raise ValidationError(f"{where}: {problem}") from None
    return tuple(spans)


def parse_week(text: str) -> tuple[tuple[Span, ...], ...]:
    """Working hours, one line per day or run of days: ``mon-fri 09:00-12:30 13:30-18:00``."""
    week: list[tuple[Span, ...]] = [()] * 7
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lower()
        if not line or line.startswith("#"):
            continue
        days, _, hours = line.partition(" ")
        first, _, last = days.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValidationError(
                f"Line {number}: start with a day or a run of days such as “mon” or "
                f"“mon-fri”, then the hours (got “{raw.strip()}”)."
            )
        start, stop = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if stop < start:
            raise ValidationError(f"Line {number}: “{days}” runs backwards; write it as mon-fri.")
        spans = parse_spans(hours, where=f"Line {number}")
        for day in range(start, stop + 1):
            week[day] = spans
    return tuple(week)


def parse_dated_lines(text: str, *, with_hours: bool) -> dict[dt.date, tuple[str, str]]:
    """``2026-12-24 Company day`` (or ``2026-12-24 09:00-13:00`` with hours) per line."""
    found: dict[dt.date, tuple[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        day_text, _, rest = line.partition(" ")
        try:
            day = dt.date.fromisoformat(day_text)
        except ValueError:
            raise ValidationError(
                f"Line {number}: start with a date written 2026-12-24 (got “{day_text}”)."
            ) from None
        if day in found:
            raise ValidationError(f"Line {number}: {day:%Y-%m-%d} is listed twice.")
        if with_hours:
            hours, _, name = rest.strip().partition(" ")
            if not hours:
                raise ValidationError(f"Line {number}: give the hours, e.g. 09:00-13:00.")
            parse_spans(hours, where=f"Line {number}")
            found[day] = (hours, name.strip())
        else:
            found[day] = ("", rest.strip())
    return found


class BusinessCalendar(models.Model):
    """When a client's business day runs: the hours SLA clocks in business time count.

    A time zone, working hours per weekday with as many spans as the day has
    (a lunch break splits a day in two), public holidays of a country and
    optionally a subdivision (US-FL) from the ``holidays`` package, the client's
    own closed days and half-days; or open around the clock. Written as text the
    way an office manager writes it, checked when saved.
    """

    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    always_open = models.BooleanField(
        default=False, help_text="Open 24/7: every hour counts, as in calendar time."
    )
    working_hours = models.TextField(
        blank=True,
        default="mon-fri 09:00-17:00",
        help_text="One line per day or run of days, e.g. “mon-fri 09:00-12:30 13:30-18:00”.",
    )
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO country code whose public holidays close it."
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="State or province, e.g. FL for Florida (optional)."
    )
    closed_days = models.TextField(
        blank=True,
        help_text="The client's own closed days, one per line: “2026-12-24 Office party”.",
    )
    half_days = models.TextField(
        blank=True,
        help_text="Days with their own hours, one per line: “2026-12-31 09:00-13:00 Year end”.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Check every field a person typed, and that the calendar is ever open."""
        errors: dict[str, str] = {}
        for name, check in (
            ("working_hours", lambda: parse_week(self.working_hours)),
            ("closed_days", lambda: parse_dated_lines(self.closed_days, with_hours=False)),
            ("half_days", lambda: parse_dated_lines(self.half_days, with_hours=True)),
        ):
            try:
                check()
            except ValidationError as problem:
                errors[name] = problem.messages[0]
        if self.holiday_subdivision and not self.holiday_country:
            errors["holiday_subdivision"] = "Give the country the subdivision belongs to."
        elif self.holiday_country:
            try:
                public_holidays(
                    self.holiday_country.upper(), self.holiday_subdivision or None, [2026]
                )
            except ValueError as problem:
                errors["holiday_country"] = str(problem)
        if errors:
            raise ValidationError(errors)
        if not self.always_open and not any(parse_week(self.working_hours)):
            raise ValidationError(
                {"working_hours": "Give at least one day's hours, or mark it open 24/7."}
            )

    def rules(self) -> CalendarRules:
        """The calendar as the core's rules (public holidays are looked up for any year)."""
        if self.always_open:
            return CalendarRules.twenty_four_seven(self.time_zone)
        names = {
            day: name or "Closed"
            for day, (_, name) in parse_dated_lines(self.closed_days, with_hours=False).items()
        }
        special = {
            day: parse_spans(hours, where=str(day))
            for day, (hours, _) in parse_dated_lines(self.half_days, with_hours=True).items()
        }
        return CalendarRules(
            time_zone=self.time_zone,
            weekly=parse_week(self.working_hours),
            closed_dates=frozenset(names),
            special_hours=special,
            holiday_names=names,
            holidays_country=self.holiday_country.upper() or None,
            holidays_subdivision=self.holiday_subdivision.upper() or None,
        )


def _minutes(label: str) -> models.PositiveIntegerField[int | None, int | None]:
    return models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=f"{label} target in minutes; empty for none.",
    )


class SlaPolicy(models.Model):
    """What an engagement promises for its items: response and turnaround targets.

    A policy applies to one service or all of the engagement's services, and to
    one priority or all; the most specific policy that matches an item wins
    (service and priority, then service, then priority, then the engagement's
    default). Each target counts business time on the engagement's calendar or
    calendar time (every hour). Warnings go out when a clock has used the
    ``warn_at`` percentages of its target. Changing a policy replays the clocks
    of the engagement's open items.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.CASCADE, related_name="sla_policies"
    )
    service = models.ForeignKey(
        "catalog.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every service of the engagement.",
    )
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, null=True, blank=True, help_text="Empty: every priority."
    )
    first_response_minutes = _minutes("First response")
    first_response_business = models.BooleanField(
        default=True, help_text="Count only business time for the first response."
    )
    next_response_minutes = _minutes("Next response (after a client message)")
    next_response_business = models.BooleanField(default=True)
    turnaround_minutes = _minutes("Turnaround (submission to delivery)")
    turnaround_business = models.BooleanField(default=True)
    warn_at = models.CharField(
        max_length=40,
        default="75,90",
        help_text="Warn when a clock has used these percentages of its target, e.g. 75,90.",
    )
    lead_at = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(ESCALATION_MAX_PERCENT)],
        help_text="Escalation 1: alert the operations lead when a clock has used this % "
        "of its target; empty: never.",
    )
    raise_priority_at = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(ESCALATION_MAX_PERCENT)],
        help_text="Escalation 2: raise the item's priority one step at this %; empty: never.",
    )
    client_at = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=125,
        validators=[MinValueValidator(1), MaxValueValidator(ESCALATION_MAX_PERCENT)],
        help_text="Escalation 3: tell the client's admins at this %; empty: never.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["engagement_id", "service_id", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "service", "priority"],
                name="sla_policy_one_per_scope",
                condition=Q(service__isnull=False, priority__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["engagement", "service"],
                name="sla_policy_one_per_service",
                condition=Q(service__isnull=False, priority__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["engagement", "priority"],
                name="sla_policy_one_per_priority",
                condition=Q(service__isnull=True, priority__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["engagement"],
                name="sla_policy_one_default",
                condition=Q(service__isnull=True, priority__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        service = self.service.name if self.service else "every service"
        priority = self.get_priority_display() if self.priority is not None else "every priority"
        return f"{self.engagement}: {service}, {priority}"

    def warn_levels(self) -> tuple[int, ...]:
        """``warn_at`` as sorted percentages."""
        return parse_warn_at(self.warn_at)

    def escalation_levels(self) -> tuple[tuple[int, int], ...]:
        """The escalation steps as (step, percentage), in the order they are reached."""
        steps = ((1, self.lead_at), (2, self.raise_priority_at), (3, self.client_at))
        return tuple((step, at) for step, at in steps if at is not None)

    def clean(self) -> None:
        """Check the warnings, the escalation order, that some target is set, and that the
        service is the engagement's."""
        errors: dict[str, str] = {}
        ladder = (self.lead_at, self.raise_priority_at, self.client_at)
        # A percentage out of bounds is already refused by its field's validators.
        if all(at is None or _in_bounds(at) for at in ladder):
            problem = escalation_problem(*ladder)
            if problem is not None:
                errors[problem[0]] = problem[1]
        try:
            parse_warn_at(self.warn_at)
        except ValidationError as problem:
            errors["warn_at"] = problem.messages[0]
        if not any(
            (self.first_response_minutes, self.next_response_minutes, self.turnaround_minutes)
        ):
            errors["turnaround_minutes"] = "Set at least one target."
        if (
            self.service_id
            and self.engagement_id
            and not self.engagement.services.filter(pk=self.service_id).exists()
        ):
            errors["service"] = "The engagement does not include this service."
        if errors:
            raise ValidationError(errors)


def _in_bounds(percent: object) -> bool:
    return (
        isinstance(percent, int)
        and not isinstance(percent, bool)
        and 1 <= percent <= ESCALATION_MAX_PERCENT
    )


def escalation_problem(
    lead_at: object, raise_priority_at: object, client_at: object
) -> tuple[str, str] | None:
    """What is wrong with an escalation ladder, as (field, sentence); None when it is sound.

    Each step is a whole percentage of a clock's target from 1 to
    :data:`ESCALATION_MAX_PERCENT`, or None to skip it; the steps that are set come
    in their order (the lead, the priority, the client), each at a higher percentage.
    """
    steps = [
        (field, what, percent)
        for (field, what), percent in zip(
            ESCALATION_STEPS, (lead_at, raise_priority_at, client_at), strict=True
        )
    ]
    for field, what, percent in steps:
        if percent is not None and not _in_bounds(percent):
            return field, (
                f"{what.capitalize()} needs a whole percentage of the target from 1 to "
                f"{ESCALATION_MAX_PERCENT} (got {percent!r}); leave it empty to skip the step."
            )
    taken = [step for step in steps if step[2] is not None]
    for (_, earlier, low), (field, later, high) in pairwise(taken):
        assert isinstance(low, int) and isinstance(high, int)
        if high <= low:
            return field, (
                "Escalation steps go in order, each at a higher percentage: the lead first, "
                f"then the priority, then the client; {later} at {high} % does not come "
                f"after {earlier} at {low} %."
            )
    return None


def parse_warn_at(text: str) -> tuple[int, ...]:
    """``75,90`` as (75, 90); each between 1 and 99, no repeats."""
    levels: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 99:
            raise ValidationError(
                f"“{part}” is not a percentage between 1 and 99; write them like 75,90."
            )
        if int(part) in levels:
            raise ValidationError(f"{part} % is listed twice.")
        levels.append(int(part))
    return tuple(sorted(levels))


CLOCK_KINDS = [(k.value, k.label) for k in ClockKind]
CLOCK_STATUSES = [(s.value, s.label) for s in ClockStatus]


class SlaClock(models.Model):
    """One clock of one item as last replayed from the item's timeline.

    A copy kept for lists, figures and the watch, never the source of truth: the
    replay (``relaydesk.core.sla.replay``) writes it after every change of the
    item and of its policy. ``warned`` is the highest warning percentage
    already announced on the item's timeline, and ``escalation`` how many steps
    of the escalation ladder have been taken, so the watch says each once.
    ``holder`` is who held the item when the clock was last replayed (every
    change of holder is a change of the item): attainment by agent and by site
    counts on it without reading the items.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("work.WorkItem", on_delete=models.CASCADE, related_name="sla_clocks")
    kind = models.CharField(max_length=20, choices=CLOCK_KINDS)
    cycle = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=CLOCK_STATUSES)
    business = models.BooleanField(default=True)
    target_seconds = models.PositiveIntegerField()
    elapsed_seconds = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=200, blank=True)
    warned = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="Highest warning announced (%)."
    )
    escalation = models.PositiveSmallIntegerField(default=0)
    replayed_at = models.DateTimeField(default=timezone.now)
    # The item's engagement and service (neither ever changes), so figures narrowed or
    # grouped by them count the clocks without reading the items.
    engagement = models.ForeignKey(
        "clients.Engagement", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="Who held the item when the clock was last replayed.",
    )

    class Meta:
        ordering = ["item_id", "kind", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["item", "kind", "cycle"], name="sla_clock_per_cycle")
        ]
        indexes = [
            # The watch: open clocks by due time.
            models.Index(fields=["status", "due_at"], name="sla_clock_watch"),
            # Attainment, one client's and every client's: clocks met by when they stopped,
            # clocks missed by when they passed their due time, each narrowed by an index
            # of its own time column.
            models.Index(
                fields=["client", "kind", "status", "stopped_at"], name="sla_clock_client_met"
            ),
            models.Index(
                fields=["client", "kind", "status", "breached_at"],
                name="sla_clock_client_breached",
            ),
            # One engagement's.
            models.Index(
                fields=["engagement", "kind", "status", "stopped_at"],
                name="sla_clock_engagement_met",
            ),
            models.Index(
                fields=["engagement", "kind", "status", "breached_at"],
                name="sla_clock_engagement_breached",
            ),
            # Every client's, by agent or site: the holder and the client (which row
            # security reads) come with the index, so a year is read from it alone.
            models.Index(
                fields=["kind", "status", "stopped_at", "holder", "client"], name="sla_clock_met"
            ),
            models.Index(
                fields=["kind", "status", "breached_at", "holder", "client"],
                name="sla_clock_breached",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind} #{self.cycle}: {self.status}"

    @property
    def kind_enum(self) -> ClockKind:
        """The clock kind as the core enum."""
        return ClockKind(self.kind)

    @property
    def status_enum(self) -> ClockStatus:
        """The status as the core enum."""
        return ClockStatus(self.status)
