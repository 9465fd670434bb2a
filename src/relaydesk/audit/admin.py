"""Back office view of the audit trail (read only), and audited bulk deletion."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from relaydesk.audit.models import AuditRecord
from relaydesk.audit.receivers import record_admin_entry


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ["seq", "at", "actor_label", "action", "object_type", "object_id", "client"]
    list_filter = ["action", "client"]
    readonly_fields = [f.name for f in AuditRecord._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.action(permissions=["delete"], description="Delete selected %(verbose_name_plural)s")
def delete_selected(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> Any:
    """Django's bulk delete, with one ``admin.delete`` audit record per object deleted.

    Django logs several deletions with ``bulk_create``, which sends no
    ``post_save``; a single deletion is logged with ``save()`` and recorded by
    the receiver, so only the bulk case is recorded here.
    """
    with transaction.atomic():
        entries = [
            (
                LogEntry(
                    user=request.user,  # type: ignore[misc]
                    content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
                    object_id=str(obj.pk),
                    object_repr=str(obj)[:200],
                    action_flag=DELETION,
                ),
                obj,
            )
            for obj in (queryset if request.POST.get("post") else [])
        ]
        response = django_delete_selected(modeladmin, request, queryset)
        if response is None and len(entries) > 1:
            for entry, obj in entries:
                record_admin_entry(entry, obj)
    return response


admin.site.add_action(delete_selected, "delete_selected")
