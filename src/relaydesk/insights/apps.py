from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "relaydesk.insights"
    label = "insights"
    verbose_name = "Objectives and dashboards"

    def ready(self) -> None:
        from relaydesk.insights.daily import on_work_days_changed
        from relaydesk.insights.measures import connect_measures
        from relaydesk.insights.ops_daily import connect_calendar_forgetting
        from relaydesk.work.signals import work_days_changed

        # Every committed change of an item replays its row of the dashboards' roll-up.
        connect_measures()
        # A change that moves an item on a day already counted forgets that day.
        work_days_changed.connect(on_work_days_changed, dispatch_uid="insights-daily")
        # A change of the shift calendars forgets the operations days it moves.
        connect_calendar_forgetting()
