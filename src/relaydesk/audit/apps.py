from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "relaydesk.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from relaydesk.audit import receivers

        receivers.connect()
