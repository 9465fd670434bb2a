"""The filters of the audit trail page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.audit.models import AuditRecord


class AuditFilterForm(forms.Form):
    """Action, person and a date range (whole days in the viewer's time zone)."""

    action = forms.ChoiceField(required=False)
    person = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, records: QuerySet[AuditRecord], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = records.order_by("action").values_list("action", flat=True).distinct()
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = [("", "All actions"), *((a, a) for a in actions)]
        people = User.objects.filter(pk__in=records.exclude(actor=None).values("actor_id"))
        person_field = self.fields["person"]
        assert isinstance(person_field, forms.ChoiceField)
        person_field.choices = [
            ("", "Everyone"),
            *((u.pk, u.get_full_name()) for u in people.order_by("full_name", "email")),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def wanted(self) -> dict[str, Any]:
        """The valid filters as arguments of ``queries.filter_records``."""
        data = self.cleaned_data if self.is_bound else {}
        zone = timezone.get_current_timezone()

        def midnight(day: dt.date | None) -> dt.datetime | None:
            return dt.datetime.combine(day, dt.time.min, tzinfo=zone) if day else None

        end_day = data.get("date_to") if "date_to" not in self.errors else None
        return {
            "action": data.get("action") or "",
            "actor_id": data.get("person"),
            "start": midnight(data.get("date_from")),
            "end": midnight(end_day + dt.timedelta(days=1)) if end_day else None,
        }

    def as_text(self) -> dict[str, str]:
        """The filters as written, to note in the export's own audit record."""
        if not self.is_bound:
            return {}
        return {k: str(self.data.get(k, "")) for k in ("action", "person", "date_from", "date_to")}
