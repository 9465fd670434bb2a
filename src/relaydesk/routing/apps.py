from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "relaydesk.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from relaydesk.routing import actions
        from relaydesk.work.signals import work_item_changed

        # An agent who finishes or releases an item is idle from then on (longest idle first).
        work_item_changed.connect(actions.on_work_item_changed, dispatch_uid="routing-idle-since")
        # An agent who signs out is offline, and nothing they hold stays with them.
        user_logged_out.connect(actions.on_signed_out, dispatch_uid="routing-signed-out")
