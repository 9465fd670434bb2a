from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "relaydesk.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from relaydesk.webhooks import actions
        from relaydesk.work.signals import item_commented, work_item_changed

        # Committed lifecycle changes and client-visible comments become events.
        work_item_changed.connect(actions.on_work_item_changed, dispatch_uid="webhooks-events")
        item_commented.connect(actions.on_item_commented, dispatch_uid="webhooks-comments")
