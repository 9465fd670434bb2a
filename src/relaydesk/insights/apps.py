from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "relaydesk.insights"
    label = "insights"
    verbose_name = "Objectives and dashboards"

    def ready(self) -> None:
        from relaydesk.insights.daily import on_work_days_changed
        from relaydesk.insights.measures import connect_measures
        from relaydesk.work.signals import work_days_changed

        # Every committed change of an item replays its row of the dashboards' roll-up.
        connect_measures()
        # A change that moves an item on a day already counted forgets that day.
        work_days_changed.connect(on_work_days_changed, dispatch_uid="insights-daily")
