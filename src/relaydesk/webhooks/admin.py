"""Back office view of webhooks: read-only (a client's admins set them up in the portal).

Never shows the signing secret or its ciphertext, nor the payloads' contents beyond
their event type.
"""

from django.contrib import admin

from relaydesk.webhooks.models import WebhookDelivery, WebhookEndpoint


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ["url", "client", "engagement", "active", "created_at"]
    list_filter = ["active", "client"]
    fields = (
        "client",
        "engagement",
        "url",
        "description",
        "event_types",
        "active",
        "secret_hint",
        "secret_rolled_at",
        "created_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = [
        "event_type",
        "endpoint",
        "client",
        "state",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["state", "event_type", "client"]
    fields = (
        "client",
        "endpoint",
        "event_id",
        "event_type",
        "state",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "last_response_ms",
        "created_at",
    )
    readonly_fields = fields
