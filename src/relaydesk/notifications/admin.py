"""Back office for notifications: read-only, to answer "was I told, and was it e-mailed?"."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from relaydesk.notifications.models import (
    Notification,
    NotificationDigest,
    NotificationPreference,
)


class _ReadOnly(admin.ModelAdmin):
    """Written by the product itself; the back office only looks."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(_ReadOnly):
    list_display = [
        "created_at",
        "recipient",
        "kind",
        "item",
        "read_at",
        "email",
        "email_status",
        "emailed_at",
    ]
    list_filter = ["kind", "email", "email_status"]
    search_fields = ["recipient__email", "title"]
    list_select_related = ["recipient", "item"]
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(_ReadOnly):
    list_display = ["user", "kind", "in_app", "email", "updated_at"]
    list_filter = ["kind", "email"]
    search_fields = ["user__email"]


@admin.register(NotificationDigest)
class NotificationDigestAdmin(_ReadOnly):
    list_display = ["day", "user", "notifications", "sent_at"]
    search_fields = ["user__email"]
