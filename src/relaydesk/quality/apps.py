from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "relaydesk.quality"
    label = "quality"
    verbose_name = "Quality"
