"""URLs of the reports, under the dashboard (``/dashboard/reports/``)."""

from django.urls import path

from relaydesk.insights import report_views as views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("new/", views.report_new, name="new"),
    path("<int:report_id>/", views.report_detail, name="detail"),
    path("<int:report_id>/commentary/", views.report_commentary, name="commentary"),
    path("<int:report_id>/report.pdf", views.report_pdf, name="pdf"),
    path("<int:report_id>/items.csv", views.report_csv, name="csv"),
    path("<int:report_id>/items.xlsx", views.report_xlsx, name="xlsx"),
    path("schedules/new/", views.schedule_new, name="schedule_new"),
    path("schedules/<int:schedule_id>/", views.schedule_detail, name="schedule"),
    path(
        "schedules/<int:schedule_id>/commentary/",
        views.schedule_commentary,
        name="schedule_commentary",
    ),
]
