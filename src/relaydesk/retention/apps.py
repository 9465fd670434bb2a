from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "relaydesk.retention"
    label = "retention"
    verbose_name = "Data lifecycle"
