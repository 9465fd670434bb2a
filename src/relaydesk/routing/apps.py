from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "relaydesk.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from relaydesk.routing import actions
        from relaydesk.work.signals import work_item_changed

        # An agent who finishes or releases an item is idle from then on (longest idle first).
        work_item_changed.connect(actions.on_work_item_changed, dispatch_uid="routing-idle-since")
