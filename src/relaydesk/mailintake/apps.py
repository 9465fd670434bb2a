from django.apps import AppConfig


class MailIntakeConfig(AppConfig):
    name = "relaydesk.mailintake"
    label = "mailintake"
    verbose_name = "Mail intake"
