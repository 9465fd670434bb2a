"""Back office for clients and engagements."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from relaydesk.clients.models import Client, Engagement
from relaydesk.tenancy import rowsecurity


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

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and {"calendar", "time_zone"} & set(form.changed_data):
            # Business time now counts on other hours: the open items' due times move.
            from relaydesk.sla.actions import replay_after_change

            engagement = obj.pk
            rowsecurity.on_commit_in_scope(lambda: replay_after_change([engagement]))
