"""Template filters of the quality figures."""

from __future__ import annotations

from django import template
from django.urls import reverse

from relaydesk.core.permissions import Permission, can

register = template.Library()


@register.filter
def quality_band(score: float | None) -> str:
    """How a quality score or accuracy reads at a glance: good (90 and up), fair (80), poor."""
    if score is None:
        return "none"
    if score >= 90:
        return "good"
    return "fair" if score >= 80 else "poor"


# The pages of the quality section, in order, and who sees each.
_TABS = (
    ("figures", "Figures", "quality:figures", Permission.VIEW_QUALITY),
    ("disputes", "Disputes", "quality:disputes", Permission.DECIDE_DISPUTES),
    ("calibration", "Calibration", "quality:calibration", Permission.TAKE_PART_IN_CALIBRATION),
)


@register.simple_tag(takes_context=True)
def quality_tabs(context: template.Context) -> list[tuple[str, str, str]]:
    """The quality pages the signed-in person may open, as (name, label, url); empty when
    there is only one, so a lone page shows no tabs."""
    user = context["request"].user
    tabs = [
        (name, label, reverse(url))
        for name, label, url, permission in _TABS
        if can(user.role_enum, permission)
    ]
    return tabs if len(tabs) > 1 else []
