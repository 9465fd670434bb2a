"""The dashboard's filter and the objective form."""

from __future__ import annotations

from typing import Any

from django import forms

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.figures import FiguresFilter
from relaydesk.insights.models import Metric


class DashboardFilter(FiguresFilter):
    """The period, engagement and service the dashboard shows (no grouping: each chart
    has its own)."""

    def __init__(self, actor: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(actor, *args, **kwargs)
        del self.fields["group_by"]


class ObjectiveForm(forms.Form):
    """A target for one figure of an engagement."""

    engagement: forms.ModelChoiceField[Engagement] = forms.ModelChoiceField(
        queryset=Engagement.objects.none(), empty_label=None
    )
    metric = forms.ChoiceField(label="Figure", choices=Metric.choices)
    target = forms.CharField(
        max_length=20, help_text="Per cent, hours, items or money, as the figure counts."
    )
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea({"rows": 2}), label="Why"
    )

    def __init__(self, actor: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["engagement"].queryset = visible_engagements(actor).order_by(  # type: ignore[attr-defined]
            "client__name", "name"
        )
