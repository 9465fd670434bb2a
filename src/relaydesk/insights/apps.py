from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "relaydesk.insights"
    label = "insights"
    verbose_name = "Objectives and dashboards"
