"""Back office for e-mail intake: engagements' intake addresses (editable, audited) and the
quarantine (read-only, with retry and discard actions)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from relaydesk.accounts.models import User
from relaydesk.errors import ActionRefused
from relaydesk.mailintake.actions import (
    check_intake_address,
    do_discard_quarantined,
    do_retry_quarantined,
    do_save_intake_address,
)
from relaydesk.mailintake.models import (
    IntakeAddress,
    QuarantinedMessage,
    QuarantineState,
    intake_domain,
)
from relaydesk.web import client_ip


class DomainsField(forms.CharField):
    """Domains typed as a comma- or space-separated list, kept as a JSON list."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [d.lower().rstrip(".") for d in text.replace(",", " ").split() if d]


class IntakeAddressForm(forms.ModelForm):
    """The intake address, checked by the same rules the action applies."""

    allowed_sender_domains = DomainsField(
        required=False,
        help_text="Other people at these domains may send work too (comma-separated), filed as "
        "the 'submit as' user, naming the sender.",
    )

    class Meta:
        model = IntakeAddress
        fields = [
            "engagement",
            "local_part",
            "service",
            "jurisdiction",
            "active",
            "allowed_sender_domains",
            "submit_as",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "local_part"
        ].help_text = f"The part before @{intake_domain()}, e.g. hartwell-claims."

    def clean_local_part(self) -> str:
        return str(self.cleaned_data["local_part"]).strip().lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        # The action's rules, on a copy holding the form's values (the instance gets them later).
        candidate = copy.copy(self.instance)
        for name in self._meta.fields or []:
            if name in data:
                setattr(candidate, name, data[name])
        candidate.client_id = candidate.engagement.client_id
        try:
            check_intake_address(candidate)
        except ActionRefused as refusal:
            raise ValidationError(refusal.message) from None
        return data


@admin.register(IntakeAddress)
class IntakeAddressAdmin(admin.ModelAdmin):
    form = IntakeAddressForm
    list_display = ["address", "client", "engagement", "service", "active"]
    list_filter = ["active", "client"]
    search_fields = ["local_part"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Switch an address off instead: its history stays readable.
        return False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "submit_as":
            # Only a client's own active users can stand in for their colleagues.
            kwargs["queryset"] = User.objects.filter(client__isnull=False, is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = request.user
        assert isinstance(user, User)
        try:
            do_save_intake_address(user, obj, source_ip=client_ip(request))
        except ActionRefused as refusal:
            raise ValidationError(refusal.message) from refusal


def _each[T](
    request: HttpRequest, queryset: QuerySet[QuarantinedMessage], act: Callable[..., T]
) -> list[T]:
    """Run ``act`` on every held message of ``queryset``; refusals are shown, not raised."""
    user = request.user
    assert isinstance(user, User)
    results = []
    for message in queryset.filter(state=QuarantineState.HELD):
        try:
            results.append(act(user, message, source_ip=client_ip(request)))
        except ActionRefused as refusal:
            messages.error(request, f"{message}: {refusal.message}")
    return results


class QuarantinedMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "reason_code", "sender", "subject", "client", "state"]
    list_filter = ["state", "reason_code", "client"]
    search_fields = ["sender", "subject", "recipients"]
    date_hierarchy = "received_at"
    actions = ["retry", "discard"]
    readonly_fields = [
        "received_at",
        "state",
        "reason_code",
        "reason",
        "sender",
        "recipients",
        "subject",
        "message_id",
        "client",
        "intake_address",
        "source",
        "size",
        "sha256",
        "encrypted",
        "decided_at",
        "decided_by",
        "item",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description="Kept encrypted")
    def encrypted(self, obj: QuarantinedMessage) -> str:
        if not obj.raw:
            return "Deleted"
        if obj.encryption_id is None:
            return "No (kept as it came)"
        if obj.provider_key:
            return f"With the provider's quarantine key v{obj.key_version} (no client known)"
        return f"With {obj.client}'s data key v{obj.key_version}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Written by intake and changed only through the actions below.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Retry the selected messages (file them as they would be now)")
    def retry(self, request: HttpRequest, queryset: QuerySet[QuarantinedMessage]) -> None:
        outcomes = _each(request, queryset, do_retry_quarantined)
        filed = [o.item.reference for o in outcomes if o.item is not None]
        still = len(outcomes) - len(filed)
        if filed:
            messages.success(request, f"Filed {len(filed)}: {', '.join(filed[:20])}.")
        if still:
            messages.warning(request, f"{still} still held; the reason column says why now.")

    @admin.action(description="Discard the selected messages (delete their content)")
    def discard(self, request: HttpRequest, queryset: QuerySet[QuarantinedMessage]) -> None:
        done = _each(request, queryset, do_discard_quarantined)
        if done:
            messages.success(request, f"Discarded {len(done)} message(s).")


admin.site.register(QuarantinedMessage, QuarantinedMessageAdmin)
