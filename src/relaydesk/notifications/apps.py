from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "relaydesk.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from relaydesk.notifications import receivers
        from relaydesk.routing.signals import handoff_offered
        from relaydesk.sla.signals import sla_escalated, sla_warning
        from relaydesk.work.signals import item_commented, work_item_changed

        # Each receiver only writes notifications and sends e-mail after the change has
        # committed; a failure is logged and never undoes or fails the change.
        work_item_changed.connect(receivers.on_work_item_changed, dispatch_uid="notify-change")
        item_commented.connect(receivers.on_item_commented, dispatch_uid="notify-comment")
        sla_warning.connect(receivers.on_sla_warning, dispatch_uid="notify-sla")
        sla_escalated.connect(receivers.on_sla_escalated, dispatch_uid="notify-sla-escalation")
        handoff_offered.connect(receivers.on_handoff_offered, dispatch_uid="notify-handoff")
