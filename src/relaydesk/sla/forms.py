"""The filters of the SLA figures: which clock, which period, grouped how."""

from __future__ import annotations

from typing import Any

from django import forms

from relaydesk.accounts.models import User
from relaydesk.core.sla import ClockKind
from relaydesk.figures import FiguresFilter


class AttainmentFilter(FiguresFilter):
    """What the figures page and its CSV show (the API takes the same parameters)."""

    kind = forms.ChoiceField(
        label="Clock", choices=[(k.value, k.label) for k in ClockKind], required=False
    )
    field_order = ("kind", "group_by", "start", "end", "engagement", "service")

    @classmethod
    def defaults(cls, actor: User) -> dict[str, str]:
        """The turnaround clock over the last 30 days, unless the query says otherwise."""
        return {"kind": ClockKind.TURNAROUND.value, **super().defaults(actor)}

    def clean(self) -> dict[str, Any]:
        """Fill what was left out with the defaults, and check the period."""
        data = super().clean()
        data["kind"] = ClockKind(data.get("kind") or ClockKind.TURNAROUND.value)
        return data
