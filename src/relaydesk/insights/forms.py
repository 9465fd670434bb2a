"""The dashboard's filter, the objective form, and the reports' forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.permissions import Permission, can
from relaydesk.figures import FiguresFilter
from relaydesk.insights.models import Metric
from relaydesk.insights.report_actions import MAX_COMMENTARY
from relaydesk.insights.report_models import Frequency
from relaydesk.insights.reports import eligible_recipients


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


# -- reports -------------------------------------------------------------------------------


def report_engagements(actor: User) -> Any:
    """The engagements ``actor`` may make or schedule reports of, by client and name."""
    return visible_engagements(actor).order_by("client__name", "name")


class EngagementChoice(forms.ModelChoiceField):
    """Engagements named with their client for the provider, alone for a client."""

    def __init__(self, actor: User, **kwargs: Any) -> None:
        super().__init__(queryset=report_engagements(actor), empty_label=None, **kwargs)
        self.with_client = not actor.is_client_user

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.client.name} · {obj.name}" if self.with_client else str(obj.name)


class EngagementChooser(forms.Form):
    """The first step of scheduling a report: which engagement."""

    def __init__(self, actor: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["engagement"] = EngagementChoice(actor)


class ReportForm(forms.Form):
    """Make a report now: engagement, period and (for the provider) commentary."""

    start = forms.DateField(label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput({"type": "date"}))
    commentary = forms.CharField(
        required=False,
        max_length=MAX_COMMENTARY,
        widget=forms.Textarea({"rows": 4}),
        help_text="Printed in the report; you can change it later.",
    )

    def __init__(self, actor: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {"engagement": EngagementChoice(actor), **self.fields}
        if not can(actor.role_enum, Permission.WRITE_REPORT_COMMENTARY):
            del self.fields["commentary"]
        if not self.is_bound:
            today = timezone.now().astimezone(dt.UTC).date()
            last = today.replace(day=1) - dt.timedelta(days=1)
            self.initial.update({"start": last.replace(day=1), "end": last})

    def clean(self) -> dict[str, Any]:
        """Refuse a reversed period at once, next to the fields."""
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error(
                "end", "The period ends before it starts: the last day comes after the first."
            )
        return data


class CommentaryForm(forms.Form):
    """The lead's commentary of a report, or of a schedule's next report."""

    commentary = forms.CharField(
        required=False, max_length=MAX_COMMENTARY, widget=forms.Textarea({"rows": 6})
    )


class PeopleChoice(forms.ModelMultipleChoiceField):
    """People named with their side (their client, or the provider) and address."""

    def label_from_instance(self, obj: Any) -> str:
        side = obj.client.name if obj.client_id else "Provider"
        return f"{obj.full_name or obj.email} ({side}, {obj.email})"


class ScheduleForm(forms.Form):
    """Whom a schedule sends to and what it attaches (its engagement and frequency are
    chosen when it is made)."""

    recipients = PeopleChoice(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Send to",
        required=False,
    )
    attach_xlsx = forms.BooleanField(required=False, label="Attach the items as XLSX")
    attach_csv = forms.BooleanField(required=False, label="Attach the items as CSV")

    def __init__(self, actor: User, engagement: Engagement, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = eligible_recipients(actor, engagement).select_related("client")
        self.fields["recipients"].queryset = people  # type: ignore[attr-defined]


class NewScheduleForm(ScheduleForm):
    """A new schedule: its frequency on top of :class:`ScheduleForm`."""

    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.WEEKLY)


class EditScheduleForm(ScheduleForm):
    """A schedule's recipients, attachments, and whether it sends."""

    active = forms.BooleanField(required=False, label="Send this report")
