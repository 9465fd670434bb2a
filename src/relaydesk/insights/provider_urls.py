"""URL of the operations dashboard (included under ``ops/dashboard/``)."""

from django.urls import path

from relaydesk.insights import provider_views

app_name = "ops_dashboard"

urlpatterns = [
    path("", provider_views.dashboard, name="dashboard"),
]
