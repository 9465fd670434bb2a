from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "relaydesk.audit"
    label = "audit"
    verbose_name = "Audit trail"
