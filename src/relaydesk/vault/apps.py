from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "relaydesk.vault"
    label = "vault"
    verbose_name = "Document encryption"
