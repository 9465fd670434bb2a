"""Template filters for the operations board: spans of time as a lead glances at them."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def span(delta: dt.timedelta) -> str:
    """A span of time in its two largest units: "45 min", "3 h 20 min", "2 h", "2 d 4 h"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@register.filter
def waited(since: dt.datetime | None, at: dt.datetime) -> str:
    """How long from ``since`` to ``at`` ("3 h 20 min"); empty without ``since``."""
    return span(at - since) if since is not None else ""


@register.filter
def due_in(due: dt.datetime | None, at: dt.datetime) -> str:
    """How long until ``due`` as seen at ``at``: "in 40 min", or "35 min late"."""
    if due is None:
        return ""
    if due >= at:
        return f"in {span(due - at)}"
    return f"{span(at - due)} late"


@register.filter
def percent(part: int, whole: int) -> int:
    """``part`` as a whole percentage of ``whole``, between 0 and 100 (for bar widths)."""
    if not whole:
        return 0
    return max(0, min(100, round(100 * part / whole)))
