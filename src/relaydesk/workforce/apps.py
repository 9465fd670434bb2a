from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "relaydesk.workforce"
    label = "workforce"
    verbose_name = "Workforce"
