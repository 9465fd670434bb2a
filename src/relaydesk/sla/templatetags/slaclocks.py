"""Template filters for SLA clocks as a person reads them."""

from __future__ import annotations

import datetime as dt

from django import template

from relaydesk.core.lifecycle import State
from relaydesk.routing.templatetags.opsboard import span

register = template.Library()


@register.filter
def hours_of(delta: dt.timedelta) -> str:
    """A target or an elapsed time: "8 h", "45 min", "2 d 4 h"."""
    return span(delta)


@register.filter
def bar_width(used_percent: float | None) -> int:
    """How much of a 0–100 bar a clock fills (late clocks fill it)."""
    return max(0, min(100, round(used_percent or 0)))


@register.filter
def paused_by(reason: str) -> str:
    """What paused a clock, in words: what the client was asked, in quotes, or the state
    ("waiting on client") when the hold said nothing."""
    try:
        return State(reason).label.lower()
    except ValueError:
        return f"“{reason}”"


@register.filter
def attainment_band(percent: float | None) -> str:
    """How an attainment figure reads at a glance: good (95 % and up), fair (85 %), poor."""
    if percent is None:
        return "none"
    if percent >= 95:
        return "good"
    return "fair" if percent >= 85 else "poor"
