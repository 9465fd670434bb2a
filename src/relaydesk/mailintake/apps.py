from django.apps import AppConfig


class MailIntakeConfig(AppConfig):
    name = "relaydesk.mailintake"
    label = "mailintake"
    verbose_name = "Mail intake"

    def ready(self) -> None:
        from relaydesk.mailintake.sealing import rewrap_quarantine_keys
        from relaydesk.vault.actions import master_key_rotating

        # The quarantine's own data key is re-wrapped with the client keys.
        master_key_rotating.connect(rewrap_quarantine_keys, dispatch_uid="mailintake-rewrap")
