"""URLs of the client's audit trail pages (under /portal/audit/)."""

from django.urls import path

from relaydesk.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.portal_audit, name="portal"),
    path("export.csv", views.portal_audit_export, name="export"),
]
