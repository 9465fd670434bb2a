"""Back office for service levels: business calendars and SLA policies (editable), clocks
(read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from relaydesk.sla.actions import replay_after_change
from relaydesk.sla.models import BusinessCalendar, SlaClock, SlaPolicy
from relaydesk.tenancy import rowsecurity


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "always_open", "holiday_country", "holiday_subdivision"]
    search_fields = ["name"]
    exclude = ["updated_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        # Every engagement counting on this calendar gets its open items' due times again.
        engagements = list(obj.engagements.values_list("pk", flat=True)) if change else []
        if engagements:
            rowsecurity.on_commit_in_scope(lambda: replay_after_change(engagements))


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "engagement",
        "service",
        "priority",
        "first_response_minutes",
        "next_response_minutes",
        "turnaround_minutes",
        "warn_at",
    ]
    list_filter = ["engagement__client"]
    # The client always follows the engagement; nobody picks it by hand.
    exclude = ["client", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.client_id = obj.engagement.client_id
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        engagement = obj.engagement_id
        rowsecurity.on_commit_in_scope(lambda: replay_after_change([engagement]))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        engagement = obj.engagement_id
        super().delete_model(request, obj)
        rowsecurity.on_commit_in_scope(lambda: replay_after_change([engagement]))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # Policies deleted from the list: every engagement that lost one replays, too.
        engagements = sorted(set(queryset.values_list("engagement_id", flat=True)))
        super().delete_queryset(request, queryset)
        if engagements:
            rowsecurity.on_commit_in_scope(lambda: replay_after_change(engagements))


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):
    list_display = ["item", "kind", "cycle", "status", "due_at", "stopped_at", "warned"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in SlaClock._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Clocks are replayed from the item's timeline, never typed in.
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
