from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "relaydesk.clients"
    label = "clients"
    verbose_name = "Clients and engagements"
