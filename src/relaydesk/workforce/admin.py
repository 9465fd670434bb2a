"""Back office for sites, shifts, holidays and overtime, and agents."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from relaydesk.workforce.models import (
    Agent,
    AgentCertification,
    AgentClearance,
    AgentSkill,
    Certification,
    Clearance,
    ShiftException,
    ShiftExceptionKind,
    ShiftPattern,
    Site,
)


class ShiftInline(admin.TabularInline):
    model = ShiftPattern
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "time_zone", "is_onshore"]
    inlines = [ShiftInline]


class UpcomingFilter(admin.SimpleListFilter):
    """Holidays and overtime still to come, or already past."""

    title = "when"
    parameter_name = "when"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("upcoming", "Today and later"), ("past", "Past")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[ShiftException]
    ) -> QuerySet[ShiftException]:
        now = timezone.now()
        # A holiday's day is local to its site; a day's margin keeps every zone's today.
        upcoming = Q(day__gte=(now - dt.timedelta(days=1)).date()) | Q(ends_at__gt=now)
        if self.value() == "upcoming":
            return queryset.filter(upcoming)
        if self.value() == "past":
            return queryset.exclude(upcoming)
        return queryset


@admin.register(ShiftException)
class ShiftExceptionAdmin(admin.ModelAdmin):
    """Holidays (a local day, for the site or one shift) and overtime windows."""

    list_display = ["name", "kind", "site", "when", "applies_to"]
    list_filter = ["kind", "site", UpcomingFilter]
    search_fields = ["name", "shift_name", "agent__user__full_name"]
    list_select_related = ["site", "agent__user"]
    autocomplete_fields = ["agent"]
    date_hierarchy = "day"
    fieldsets = [
        (None, {"fields": ["kind", "site", "name"]}),
        ("Who", {"fields": ["shift_name", "agent"]}),
        (
            "When",
            {
                "fields": ["day", "starts_at", "ends_at"],
                "description": "A holiday has a day (the site's local date: no shift "
                "starts then). Overtime has a start and an end.",
            },
        ),
    ]

    @admin.display(description="when", ordering="day")
    def when(self, row: ShiftException) -> str:
        if row.kind == ShiftExceptionKind.HOLIDAY:
            return f"{row.day:%a %d %b %Y}"
        assert row.starts_at is not None and row.ends_at is not None
        zone = ZoneInfo(row.site.time_zone)
        start, end = row.starts_at.astimezone(zone), row.ends_at.astimezone(zone)
        until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
        return f"{start:%a %d %b %Y %H:%M}–{until} ({row.site.name} time)"

    @admin.display(description="applies to")
    def applies_to(self, row: ShiftException) -> str:
        if row.agent_id is not None and row.agent is not None:
            return row.agent.user.full_name
        if row.shift_name:
            return f"{row.shift_name} shift"
        return "every shift"


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 0


class AgentCertificationInline(admin.TabularInline):
    model = AgentCertification
    extra = 0


class AgentClearanceInline(admin.TabularInline):
    model = AgentClearance
    extra = 0


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["user", "site", "shift", "employee_code", "capacity"]
    list_filter = ["site", "shift_name"]
    search_fields = ["user__full_name", "user__email", "employee_code"]
    list_select_related = ["user", "site"]
    fields = ["user", "site", "shift_name", "employee_code", "languages", "capacity"]
    inlines = [AgentSkillInline, AgentCertificationInline, AgentClearanceInline]

    @admin.display(description="shift", ordering="shift_name")
    def shift(self, agent: Agent) -> str:
        return agent.shift_name or "every shift"


admin.site.register(Certification)
admin.site.register(Clearance)
