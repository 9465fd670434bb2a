"""SLA clocks, replayed from an item's timeline.

A clock is never a counter that could drift: it is worked out again, whenever it
is asked for, from the item's timeline (what happened, when) and the terms that
apply (targets, the engagement's business calendar, the states that pause a
clock, the item's hard deadline). So changing a policy and replaying gives every
open item its new deadline, and the answer for a past item is the same tomorrow.

Three clocks:

- **first response** runs from submission until the provider first answers: a
  reply the client can read, work starting, or delivery;
- **next response** runs from each client message the provider has not yet
  answered until the provider's next reply the client can read (or delivery);
  each such wait is a cycle of its own;
- **turnaround** runs from submission until delivery. It stops while the item is
  delivered or accepted, and runs again if the client asks for rework, so it
  measures the provider's time to the final delivery.

Every running clock stops while the item is in a pausing state (waiting on the
client). Its reason is what the provider said when it put the item on hold (what it
needs from the client), or the state itself when nothing was said. Each target is in
business time (the engagement's calendar) or calendar time (every hour counts). A
hard deadline (a court filing date, a payroll cut-off) caps the turnaround's due
time whenever it is earlier, and does not move while the clock is paused.

Pure Python: the time arithmetic is whatever :class:`TimeMeasure` is given, so the
same replay runs on :mod:`relaydesk.core.calendars`' functions or on a precomputed
index for bulk work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = [
    "WALL_CLOCK",
    "Attainment",
    "Clock",
    "ClockKind",
    "ClockStatus",
    "SlaTerms",
    "Target",
    "TimeMeasure",
    "TimelineEntry",
    "attainment",
    "replay",
]

_ZERO = dt.timedelta(0)
# Lifecycle facts the replay reads (the values of relaydesk.core.lifecycle's enums).
_DELIVERED_STATES = frozenset({"delivered", "accepted"})
_CLOSED_STATES = frozenset({"accepted", "cancelled"})
_WORK_STARTED = "in_progress"


class ClockKind(StrEnum):
    """Which promise a clock measures."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    TURNAROUND = "turnaround"

    @property
    def label(self) -> str:
        """The clock's name as a person reads it."""
        return {
            ClockKind.FIRST_RESPONSE: "First response",
            ClockKind.NEXT_RESPONSE: "Next response",
            ClockKind.TURNAROUND: "Turnaround",
        }[self]


class ClockStatus(StrEnum):
    """Where a clock stands."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The status as a person reads it."""
        return self.value.capitalize()


class TimeMeasure(Protocol):
    """Time arithmetic on one calendar: business time, or every hour for calendar time."""

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant ``duration`` of counted time after ``start``."""
        ...

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Counted time from ``start`` to ``end`` (zero when ``end`` is not later)."""
        ...


class _WallClock:
    """Calendar time: every second counts."""

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        return start + duration

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        return max(end - start, _ZERO)


WALL_CLOCK: TimeMeasure = _WallClock()


@dataclass(frozen=True, slots=True)
class Target:
    """One promise: a clock kind, how long, and whether only business time counts."""

    kind: ClockKind
    duration: dt.timedelta
    business: bool = True

    def __post_init__(self) -> None:
        if self.duration <= _ZERO:
            raise ValueError(f"the {self.kind.label.lower()} target must be longer than zero")


@dataclass(frozen=True, slots=True)
class SlaTerms:
    """What an item is promised: its targets, what pauses the clocks, its hard deadline."""

    targets: tuple[Target, ...]
    pause_states: frozenset[str] = frozenset({"waiting_on_client"})
    hard_deadline: dt.datetime | None = None
    warn_at: tuple[int, ...] = (75, 90)

    def target(self, kind: ClockKind) -> Target | None:
        """The target for ``kind``, if the terms set one."""
        return next((t for t in self.targets if t.kind is kind), None)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One timeline event as the clocks see it.

    ``to_state`` is the state the event moved the item to (empty when it did not
    move it); ``provider_reply`` is a provider's message the client can read;
    ``client_message`` is a message from the client's side. ``note`` is what was
    said with the move (the question of a hold), given only when the client may
    read it: it becomes the reason of the pause the move starts.
    """

    at: dt.datetime
    to_state: str = ""
    provider_reply: bool = False
    client_message: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class Clock:
    """One clock of one item, as of ``now``.

    ``elapsed`` is the counted time the clock has run (pauses excluded). ``due_at``
    is when the target is (or was) reached if nothing pauses it again; it is None
    while the clock is paused and no hard deadline bounds it. ``breached_at`` is
    when the clock passed its due time, if it did. ``paused_reason``, while it is
    paused, is what the client was asked when the item was put on hold, or the
    pausing state (``waiting_on_client``) when nothing was said.
    """

    kind: ClockKind
    cycle: int
    target: dt.timedelta
    business: bool
    started_at: dt.datetime
    status: ClockStatus
    elapsed: dt.timedelta
    due_at: dt.datetime | None
    stopped_at: dt.datetime | None = None
    breached_at: dt.datetime | None = None
    paused_reason: str = ""
    paused_for: dt.timedelta = _ZERO
    warned: tuple[int, ...] = field(default=())

    @property
    def used_percent(self) -> float:
        """How much of the target the clock has used, in per cent (over 100 when late)."""
        return self.elapsed / self.target * 100

    @property
    def left(self) -> dt.timedelta:
        """Counted time left before the target (negative when late)."""
        return self.target - self.elapsed

    @property
    def is_open(self) -> bool:
        """True while the clock can still change (running or paused)."""
        return self.status in (ClockStatus.RUNNING, ClockStatus.PAUSED)


@dataclass
class _Run:
    """A clock being replayed: when it counted, and whether it has stopped."""

    kind: ClockKind
    cycle: int
    started_at: dt.datetime
    intervals: list[list[dt.datetime | None]] = field(default_factory=list)
    stopped_at: dt.datetime | None = None
    cancelled: bool = False
    paused_reason: str = ""
    paused_since: dt.datetime | None = None
    paused_for: dt.timedelta = _ZERO

    def resume(self, at: dt.datetime) -> None:
        if not self.intervals or self.intervals[-1][1] is not None:
            self.intervals.append([at, None])

    def halt(self, at: dt.datetime) -> None:
        if self.intervals and self.intervals[-1][1] is None:
            self.intervals[-1][1] = at

    def stop(self, at: dt.datetime, *, cancelled: bool = False) -> None:
        self.halt(at)
        if self.paused_since is not None:
            self.paused_for += at - self.paused_since
            self.paused_since = None
            self.paused_reason = ""
        self.stopped_at = at
        self.cancelled = cancelled


def replay(
    entries: Iterable[TimelineEntry],
    terms: SlaTerms,
    *,
    business: TimeMeasure,
    now: dt.datetime,
) -> list[Clock]:
    """Every clock of one item as of ``now``, replayed from its timeline.

    ``entries`` are the item's timeline in time order, the first being its
    submission; ``business`` measures business time on the engagement's calendar.
    Clocks without a target in ``terms`` are left out; events after ``now`` are
    ignored.
    """
    ordered: Sequence[TimelineEntry] = [e for e in entries if e.at <= now]
    if not ordered:
        return []
    submitted = ordered[0].at
    runs: list[_Run] = []
    first = _Run(ClockKind.FIRST_RESPONSE, 1, submitted)
    turnaround = _Run(ClockKind.TURNAROUND, 1, submitted)
    first.resume(submitted)
    turnaround.resume(submitted)
    runs += [first, turnaround]
    waiting_reply: _Run | None = None
    cycles = 0
    # Why the item is on hold (the note of the move that paused it, else its state);
    # empty while it is not.
    paused_by = ""

    def live() -> list[_Run]:
        return [r for r in runs if r.stopped_at is None and not r.cancelled]

    for entry in ordered[1:]:
        at, state = entry.at, entry.to_state
        if entry.client_message and waiting_reply is None and state not in _CLOSED_STATES:
            cycles += 1
            waiting_reply = _Run(ClockKind.NEXT_RESPONSE, cycles, at)
            if not paused_by:
                waiting_reply.resume(at)
            else:
                waiting_reply.paused_reason, waiting_reply.paused_since = paused_by, at
            runs.append(waiting_reply)
        answered = entry.provider_reply or state == _WORK_STARTED or state in _DELIVERED_STATES
        if answered and first.stopped_at is None:
            first.stop(at)
        if (entry.provider_reply or state in _DELIVERED_STATES) and waiting_reply is not None:
            waiting_reply.stop(at)
            waiting_reply = None
        if not state:
            continue
        if state == "cancelled":
            for run in live():
                run.stop(at, cancelled=True)
            waiting_reply = None
            continue
        if state in _DELIVERED_STATES:
            if turnaround.stopped_at is None:  # acceptance after delivery changes nothing
                turnaround.stop(at)
            continue
        if turnaround.stopped_at is not None and not turnaround.cancelled:
            # Rework after delivery: the turnaround runs again until the next delivery.
            turnaround.stopped_at = None
        if state in terms.pause_states:
            paused_by = entry.note.strip() or state
            for run in live():
                # Running, or reopened after delivery by this very event: paused from now.
                if run.paused_since is None:
                    run.halt(at)
                    run.paused_reason, run.paused_since = paused_by, at
        else:
            paused_by = ""
            for run in live():
                if run.paused_since is not None:
                    run.paused_for += at - run.paused_since
                    run.paused_since = None
                    run.paused_reason = ""
                run.resume(at)

    clocks = []
    for run in runs:
        target = terms.target(run.kind)
        if target is None:
            continue
        measure = business if target.business else WALL_CLOCK
        hard = terms.hard_deadline if run.kind is ClockKind.TURNAROUND else None
        clocks.append(_settle(run, target, measure, hard, terms.warn_at, now))
    return clocks


def _settle(
    run: _Run,
    target: Target,
    measure: TimeMeasure,
    hard_deadline: dt.datetime | None,
    warn_at: tuple[int, ...],
    now: dt.datetime,
) -> Clock:
    """Measure a replayed clock against its target."""
    elapsed = _ZERO
    due: dt.datetime | None = None
    for start, end in run.intervals:
        assert start is not None
        span = measure.between(start, end if end is not None else now)
        if due is None and elapsed + span >= target.duration:
            due = measure.add(start, target.duration - elapsed)
        elapsed += span
    # Not reached yet: due when the rest of the target has passed, counted from the last
    # time the clock ran, if it is running now or was running when it stopped.
    last = run.intervals[-1] if run.intervals else None
    if due is None and last is not None and last[1] in (None, run.stopped_at):
        last_start, last_end = last
        assert last_start is not None
        counted_before = elapsed - measure.between(last_start, last_end or now)
        due = measure.add(last_start, target.duration - counted_before)
    if hard_deadline is not None and (due is None or hard_deadline < due):
        due = hard_deadline
    paused_for = run.paused_for
    if run.paused_since is not None:
        paused_for += now - run.paused_since
    end_instant = run.stopped_at if run.stopped_at is not None else now
    late = due is not None and due < end_instant
    if run.cancelled:
        status = ClockStatus.CANCELLED
    elif run.stopped_at is not None:
        status = ClockStatus.BREACHED if late else ClockStatus.MET
    elif late:
        status = ClockStatus.BREACHED
    else:
        status = ClockStatus.PAUSED if run.paused_since is not None else ClockStatus.RUNNING
    used = elapsed / target.duration * 100
    return Clock(
        kind=run.kind,
        cycle=run.cycle,
        target=target.duration,
        business=target.business,
        started_at=run.started_at,
        status=status,
        elapsed=elapsed,
        due_at=due,
        stopped_at=run.stopped_at,
        breached_at=due if late else None,
        paused_reason=run.paused_reason if run.paused_since is not None else "",
        paused_for=paused_for,
        warned=tuple(level for level in sorted(warn_at) if used >= level),
    )


@dataclass(frozen=True, slots=True)
class Attainment:
    """How many clocks that have finished met their target."""

    met: int
    breached: int

    @property
    def decided(self) -> int:
        """Clocks that have an outcome (met or breached)."""
        return self.met + self.breached

    @property
    def percent(self) -> float | None:
        """Met as a share of decided clocks, in per cent; None when none is decided."""
        return self.met / self.decided * 100 if self.decided else None


def attainment(clocks: Iterable[Clock]) -> Attainment:
    """Met and breached clocks among ``clocks``.

    A clock counts once it has an outcome: met when it stopped in time, breached
    when it passed its due time (whether or not it has stopped since). Running,
    paused and cancelled clocks are not counted.
    """
    met = breached = 0
    for clock in clocks:
        if clock.status is ClockStatus.MET:
            met += 1
        elif clock.status is ClockStatus.BREACHED:
            breached += 1
    return Attainment(met=met, breached=breached)
