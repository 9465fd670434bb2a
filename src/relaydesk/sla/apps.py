from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "relaydesk.sla"
    label = "sla"
    verbose_name = "Service levels"

    def ready(self) -> None:
        from relaydesk.sla import actions
        from relaydesk.work.signals import item_commented, work_item_changed

        # Every lifecycle change and every comment replays the item's clocks once committed.
        work_item_changed.connect(actions.on_work_item_changed, dispatch_uid="sla-replay")
        item_commented.connect(actions.on_work_item_changed, dispatch_uid="sla-replay-comment")
