from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "relaydesk.tenancy"
    label = "tenancy"
    verbose_name = "Row-level security"

    def ready(self) -> None:
        from relaydesk.tenancy import checks, rowsecurity

        checks.register()
        rowsecurity.connect_trusted_process_scope()
