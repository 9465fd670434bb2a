"""The filters of the SLA figures: which clock, which period, grouped how."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.sla import ClockKind
from relaydesk.sla.queries import EARLIEST, LATEST, groupings_for

#: The period shown when none is asked for: the last 30 UTC days, today included.
DEFAULT_DAYS = 30


class AttainmentFilter(forms.Form):
    """What the figures page and its CSV show (the API takes the same parameters)."""

    kind = forms.ChoiceField(
        label="Clock", choices=[(k.value, k.label) for k in ClockKind], required=False
    )
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
        groupings = groupings_for(actor)
        self.fields["group_by"].choices = list(groupings.items())  # type: ignore[attr-defined]
        self.fields["engagement"].queryset = visible_engagements(actor).order_by("name")  # type: ignore[attr-defined]
        self.default_group = "service" if actor.is_client_user else "engagement"

    @classmethod
    def with_defaults(cls, actor: User, query: Mapping[str, str]) -> AttainmentFilter:
        """The filter bound to ``query``, the defaults filling what it leaves out (so the
        form shows what the figures are for)."""
        today = timezone.now().astimezone(dt.UTC).date()
        data = {
            "kind": ClockKind.TURNAROUND.value,
            "group_by": "service" if actor.is_client_user else "engagement",
            "start": (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "end": today.isoformat(),
        }
        data.update({k: v for k, v in query.items() if v})
        return cls(actor, data)

    def clean(self) -> dict[str, Any]:
        """Fill what was left out with the defaults, and check the period's order."""
        data = super().clean() or {}
        today = timezone.now().astimezone(dt.UTC).date()
        data["kind"] = ClockKind(data.get("kind") or ClockKind.TURNAROUND.value)
        data["group_by"] = data.get("group_by") or self.default_group
        data["end"] = data.get("end") or today
        span = dt.timedelta(days=DEFAULT_DAYS - 1)
        data["start"] = data.get("start") or (
            data["end"] - span if data["end"] >= EARLIEST + span else EARLIEST
        )
        if data["end"] < data["start"]:
            self.add_error("end", "The period ends before it starts.")
        elif data["start"] < EARLIEST or data["end"] > LATEST:
            self.add_error(
                "start", f"Ask for days between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}."
            )
        return data
