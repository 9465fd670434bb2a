"""Back office view of the client data keys: ids and versions only, never key material."""

from django.contrib import admin

from relaydesk.vault.models import ClientDataKey


@admin.register(ClientDataKey)
class ClientDataKeyAdmin(admin.ModelAdmin):
    list_display = ["client", "version", "master_key_id", "created_at", "rewrapped_at"]
    list_filter = ["master_key_id"]
    fields = ("client", "version", "master_key_id", "created_at", "rewrapped_at")
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
