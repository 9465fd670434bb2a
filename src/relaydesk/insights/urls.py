"""URLs of the dashboard and objectives."""

from django.urls import include, path

from relaydesk.insights import views

app_name = "insights"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("objectives/", views.objectives, name="objectives"),
    path("objectives/new/", views.propose, name="propose"),
    path("objectives/<int:objective_id>/agree/", views.agree, name="agree"),
    path("objectives/<int:objective_id>/retire/", views.retire, name="retire"),
    path("reports/", include("relaydesk.insights.report_urls")),
]
