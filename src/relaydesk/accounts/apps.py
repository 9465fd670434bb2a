from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "relaydesk.accounts"
    label = "accounts"
    verbose_name = "People and access"

    def ready(self) -> None:
        from relaydesk.accounts import receivers  # noqa: F401  (connects the sign-in receivers)
