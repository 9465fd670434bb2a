"""The endpoint form of the webhook pages; the actions check everything again."""

from __future__ import annotations

from typing import Any

from django import forms

from relaydesk.clients.models import Engagement
from relaydesk.webhooks import transport
from relaydesk.webhooks.actions import MAX_PREVIOUS_SECRET_HOURS
from relaydesk.webhooks.models import SUBSCRIBABLE

EVENT_CHOICES = [(e.value, e.label) for e in SUBSCRIBABLE]


class EndpointForm(forms.Form):
    """Where events go, which ones, and whether the endpoint is active.

    With ``engagements`` (creating), the engagement is chosen too; an endpoint
    never moves to another engagement.
    """

    engagement = forms.TypedChoiceField(
        coerce=int,
        label="Engagement",
        error_messages={"invalid_choice": "Choose one of your engagements."},
    )
    url = forms.CharField(
        label="Endpoint URL",
        max_length=transport.MAX_URL_LENGTH,
        widget=forms.TextInput(
            attrs={
                "placeholder": "https://hooks.example.com/relaydesk",
                "inputmode": "url",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
        help_text="https:// only; http://127.0.0.1 and http://localhost are accepted for testing.",
    )
    description = forms.CharField(
        label="Description", max_length=200, required=False, help_text="What receives the events."
    )
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose at least one event to send.",
            "invalid_choice": "%(value)s is not an event Relaydesk sends.",
        },
    )
    active = forms.BooleanField(label="Active: send events to it", required=False, initial=True)

    def __init__(self, *args: Any, engagements: list[Engagement] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if engagements is None:
            del self.fields["engagement"]
        else:
            field = self.fields["engagement"]
            assert isinstance(field, forms.TypedChoiceField)
            field.choices = [("", "Choose an engagement…")] + [(e.pk, e.name) for e in engagements]

    def clean_url(self) -> str:
        """Refuse a URL no webhook may go to, saying why."""
        try:
            return transport.check_url(self.cleaned_data["url"])
        except transport.UrlRefused as refused:
            raise forms.ValidationError(str(refused)) from refused


class RollSecretForm(forms.Form):
    """How long the old secret keeps signing beside the new one."""

    keep_previous_hours = forms.TypedChoiceField(
        coerce=int,
        label="The old secret stops working",
        choices=[(0, "now"), (1, "in 1 hour"), (24, "in 24 hours"), (72, "in 3 days")],
        initial=24,
        error_messages={"invalid_choice": "Choose when the old secret stops working."},
    )

    def clean_keep_previous_hours(self) -> int:
        """Bounded by the action's limit too."""
        hours = int(self.cleaned_data["keep_previous_hours"])
        if not 0 <= hours <= MAX_PREVIOUS_SECRET_HOURS:
            raise forms.ValidationError("Choose when the old secret stops working.")
        return hours
