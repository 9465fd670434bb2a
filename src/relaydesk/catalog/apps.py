from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "relaydesk.catalog"
    label = "catalog"
    verbose_name = "Service catalog"
