"""Back office view of work items (read-mostly: changes go through the pages and API)."""

from django.contrib import admin

from relaydesk.work.models import WorkItem, WorkItemEvent


class EventInline(admin.TabularInline):
    model = WorkItemEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor", "kind", "from_state", "to_state", "note")
    fields = readonly_fields


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    list_display = ["__str__", "client", "service", "state", "owner", "created_at"]
    list_filter = ["state", "client", "service"]
    search_fields = ["title", "external_ref"]
    # The QA seed stays out of sight: knowing it tells in advance which work gets sampled.
    readonly_fields = [f.name for f in WorkItem._meta.fields if f.name != "qa_seed"]
    inlines = [EventInline]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        # An item's history is kept; cancel it through the lifecycle instead.
        return False
