from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "relaydesk.demo"
    label = "demo"
    verbose_name = "Demo data"
