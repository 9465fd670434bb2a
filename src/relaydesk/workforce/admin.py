"""Back office for sites, shifts and agents."""

from django.contrib import admin

from relaydesk.workforce.models import (
    Agent,
    AgentCertification,
    AgentClearance,
    AgentSkill,
    Certification,
    Clearance,
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
    list_display = ["user", "site", "employee_code", "capacity"]
    list_filter = ["site"]
    search_fields = ["user__full_name", "user__email", "employee_code"]
    inlines = [AgentSkillInline, AgentCertificationInline, AgentClearanceInline]


admin.site.register(Certification)
admin.site.register(Clearance)
