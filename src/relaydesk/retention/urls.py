"""URLs of the client's data export (under /portal/export/)."""

from django.urls import path

from relaydesk.retention import views

app_name = "retention"

urlpatterns = [
    path("", views.portal_export, name="export"),
]
