"""Forms behind the work-item pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.catalog.models import Service
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.work.actions import NewWorkItem
from relaydesk.work.models import Priority, SensitiveKind, Visibility


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class SubmitWorkItemForm(forms.Form):
    """A client's request, in the portal."""

    engagement: forms.ModelChoiceField[Engagement] = forms.ModelChoiceField(
        queryset=Engagement.objects.none(), empty_label=None
    )
    service: forms.ModelChoiceField[Service] = forms.ModelChoiceField(
        queryset=Service.objects.none(), to_field_name="slug"
    )
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.NORMAL)
    jurisdiction = forms.CharField(
        max_length=10, required=False, help_text="Where the law matters, e.g. US-FL."
    )
    language = forms.CharField(max_length=3, initial="en")
    external_ref = forms.CharField(
        max_length=100, required=False, label="Your reference", help_text="Matter or ticket no."
    )
    due_at = forms.DateTimeField(
        required=False,
        label="Due by",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In your time zone.",
    )
    attachments = MultipleFileField(required=False, label="Attachments")

    # Up to this many confidential values per request on the form (the API takes ten).
    SENSITIVE_ROWS = 2

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        engagements = visible_engagements(actor)
        engagement_field = self.fields["engagement"]
        service_field = self.fields["service"]
        assert isinstance(engagement_field, forms.ModelChoiceField)
        assert isinstance(service_field, forms.ModelChoiceField)
        engagement_field.queryset = engagements
        services = Service.objects.filter(engagements__in=engagements)
        service_field.queryset = services.distinct().select_related("line")
        self.fields["jurisdiction"].widget.attrs["placeholder"] = "US-FL"
        for row in range(1, self.SENSITIVE_ROWS + 1):
            self.fields[f"sensitive_kind_{row}"] = forms.ChoiceField(
                choices=SensitiveKind.choices, required=False, label="Kind"
            )
            self.fields[f"sensitive_label_{row}"] = forms.CharField(
                max_length=60, required=False, label="Label"
            )
            self.fields[f"sensitive_value_{row}"] = forms.CharField(
                max_length=500, required=False, label="Value"
            )

    def sensitive_rows(self) -> list[tuple[Any, Any, Any]]:
        """The confidential-detail fields, row by row, for the template."""
        return [
            (
                self[f"sensitive_kind_{n}"],
                self[f"sensitive_label_{n}"],
                self[f"sensitive_value_{n}"],
            )
            for n in range(1, self.SENSITIVE_ROWS + 1)
        ]

    def main_fields(self) -> list[Any]:
        """Every field but the confidential details."""
        return [field for field in self if not field.name.startswith("sensitive_")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for n in range(1, self.SENSITIVE_ROWS + 1):
            label, value = data.get(f"sensitive_label_{n}"), data.get(f"sensitive_value_{n}")
            if bool(label) != bool(value):
                self.add_error(f"sensitive_value_{n}", "Give both a label and a value, or neither.")
        return data

    def clean_jurisdiction(self) -> str:
        return str(self.cleaned_data["jurisdiction"]).strip().upper()

    def clean_due_at(self) -> dt.datetime | None:
        due: dt.datetime | None = self.cleaned_data["due_at"]
        if due is not None and due <= timezone.now():
            raise forms.ValidationError("The due time must be in the future.")
        return due

    def request(self) -> NewWorkItem:
        """The validated request, ready for intake."""
        data = self.cleaned_data
        return NewWorkItem(
            engagement_id=data["engagement"].pk,
            service_slug=data["service"].slug,
            title=data["title"],
            description=data["description"],
            priority=data["priority"],
            jurisdiction=data["jurisdiction"],
            language=data["language"].strip().lower(),
            external_ref=data["external_ref"],
            due_at=data["due_at"],
            sensitive=tuple(
                (
                    data[f"sensitive_kind_{n}"],
                    data[f"sensitive_label_{n}"],
                    data[f"sensitive_value_{n}"],
                )
                for n in range(1, self.SENSITIVE_ROWS + 1)
                if data.get(f"sensitive_label_{n}") and data.get(f"sensitive_value_{n}")
            ),
        )


class CommentForm(forms.Form):
    """A comment on an item."""

    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.CLIENT)


class AttachmentForm(forms.Form):
    """A file for an item."""

    file = forms.FileField()
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.CLIENT)


class ItemFilterForm(forms.Form):
    """The filters over item lists."""

    search = forms.CharField(required=False, label="Search")
    state = forms.ChoiceField(required=False)
    service = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, services: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from relaydesk.core.lifecycle import State

        self.fields["state"].choices = [("", "Any state"), ("open", "Open")] + [  # type: ignore[attr-defined]
            (s.value, s.label) for s in State
        ]
        self.fields["service"].choices = [("", "Any service"), *services]  # type: ignore[attr-defined]
        self.fields["search"].widget.attrs["placeholder"] = "Title, reference or RD-number"
