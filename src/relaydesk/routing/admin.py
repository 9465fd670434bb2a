"""Back office for routing: escalation ladders (editable); presence, steps, handoffs (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from relaydesk.routing.models import AgentPresence, EscalationLadder, EscalationStep, Handoff


@admin.register(EscalationLadder)
class EscalationLadderAdmin(admin.ModelAdmin):
    list_display = [
        "engagement",
        "widen_after_minutes",
        "alert_after_minutes",
        "lower_proficiency",
        "other_sites",
        "first_sites",
    ]
    # The client always follows the engagement; nobody picks it by hand.
    exclude = ["client"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.client_id = obj.engagement.client_id
        super().save_model(request, obj, form, change)


@admin.register(AgentPresence)
class AgentPresenceAdmin(admin.ModelAdmin):
    list_display = ["agent", "status", "since", "idle_since"]
    list_filter = ["status"]
    readonly_fields = ["agent", "status", "since", "idle_since"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Agents set their own presence (page or API); the desk only reads it here.
        return False


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    list_display = ["item", "level", "relaxations", "queued_since", "at"]
    readonly_fields = ["client", "item", "queued_since", "level", "at", "relaxations"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Steps are the item's history, like its timeline.
        return False


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ["item", "from_agent", "to_agent", "state", "created_at", "respond_by"]
    list_filter = ["state"]
    readonly_fields = [
        "client",
        "item",
        "from_agent",
        "to_agent",
        "note",
        "state",
        "created_at",
        "respond_by",
        "acknowledged_at",
        "returned_at",
        "return_reason",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Handoffs are made and answered by agents at work, so the relay stays on the timeline.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
