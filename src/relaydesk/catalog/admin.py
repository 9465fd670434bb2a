"""Back office for the service catalog."""

from django.contrib import admin

from relaydesk.catalog.models import Service, ServiceLine, ServiceSkill, Skill


class ServiceSkillInline(admin.TabularInline):
    model = ServiceSkill
    extra = 1


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "line",
        "review_policy",
        "review_role",
        "sensitivity",
        "allowed_file_types",
    ]
    list_filter = ["line", "review_policy", "sensitivity"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceSkillInline]


@admin.register(ServiceLine)
class ServiceLineAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
