from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "relaydesk.insights"
    label = "insights"
    verbose_name = "Objectives and dashboards"

    def ready(self) -> None:
        from relaydesk.insights.measures import connect_measures

        # Every committed change of an item replays its row of the dashboards' roll-up.
        connect_measures()
