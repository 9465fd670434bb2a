"""The notification settings form: for each kind offered to the person, in Relaydesk and
e-mail."""

from __future__ import annotations

from typing import Any

from django import forms

from relaydesk.core.roles import Role
from relaydesk.notifications.kinds import KINDS, Email, Kind, kinds_for

EMAIL_FORM_CHOICES = [(choice.value, choice.label) for choice in Email]


class PreferencesForm(forms.Form):
    """Two fields per kind: ``<kind>-in_app`` (a box) and ``<kind>-email`` (now, digest, off)."""

    def __init__(
        self,
        *args: Any,
        role: Role,
        current: dict[Kind, tuple[bool, Email]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.role = role
        self.kinds = kinds_for(role)
        kinds = self.kinds
        for kind in kinds:
            in_app, email = current[kind]
            spec = KINDS[kind]
            self.fields[f"{kind.value}-in_app"] = forms.BooleanField(
                label=f"{spec.label}: show in Relaydesk", required=False, initial=in_app
            )
            self.fields[f"{kind.value}-email"] = forms.ChoiceField(
                label=f"{spec.label}: e-mail",
                choices=EMAIL_FORM_CHOICES,
                initial=email.value,
                error_messages={
                    "required": "Choose how to be e-mailed.",
                    "invalid_choice": "Choose one of: right away, daily digest, no e-mail.",
                },
            )

    def rows(self) -> list[dict[str, Any]]:
        """One row per kind for the template: its wording and its two fields."""
        return [
            {
                "kind": kind,
                "label": KINDS[kind].label,
                "help": KINDS[kind].help_for(self.role),
                "in_app": self[f"{kind.value}-in_app"],
                "email": self[f"{kind.value}-email"],
            }
            for kind in self.kinds
        ]

    def choices(self) -> dict[str, tuple[bool, str]]:
        """The cleaned choices as ``{kind: (in_app, email)}`` for ``do_set_preferences``."""
        return {
            kind.value: (
                bool(self.cleaned_data[f"{kind.value}-in_app"]),
                str(self.cleaned_data[f"{kind.value}-email"]),
            )
            for kind in self.kinds
        }
