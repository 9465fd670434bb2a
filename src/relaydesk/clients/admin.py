"""Back office for clients and engagements."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from relaydesk.clients.models import Client, Engagement
from relaydesk.tenancy import rowsecurity

# What an engagement's business time counts on: changing either moves its open items' due times.
_SLA_FIELDS = frozenset({"calendar", "time_zone"})


def _replay_after_commit(engagement_ids: list[int]) -> None:
    """Replay the open items of ``engagement_ids`` once the back office's change commits."""
    from relaydesk.sla.actions import replay_after_change

    if engagement_ids:
        rowsecurity.on_commit_in_scope(lambda: replay_after_change(engagement_ids))


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

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Engagement:
            # An engagement edited on its client's page counts like one edited on its own.
            _replay_after_commit(
                [
                    engagement.pk
                    for engagement, fields in formset.changed_objects
                    if _SLA_FIELDS & set(fields)
                ]
            )


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
        if change and _SLA_FIELDS & set(form.changed_data):
            # Business time now counts on other hours: the open items' due times move.
            _replay_after_commit([obj.pk])
