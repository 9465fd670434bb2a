from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "relaydesk.work"
    label = "work"
    verbose_name = "Work items"
