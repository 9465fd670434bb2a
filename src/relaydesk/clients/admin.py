"""Back office for clients and engagements."""

from django.contrib import admin

from relaydesk.clients.models import Client, Engagement


class EngagementInline(admin.StackedInline):
    model = Engagement
    extra = 0
    filter_horizontal = ["services", "dedicated_agents"]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "industry", "created_at"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [EngagementInline]


@admin.register(Engagement)
class EngagementAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "client",
        "time_zone",
        "coverage",
        "pricing_basis",
        "starts_on",
        "ends_on",
        "document_retention_days",
    ]
    list_filter = ["client", "coverage", "pricing_basis"]
    filter_horizontal = ["services", "dedicated_agents"]
