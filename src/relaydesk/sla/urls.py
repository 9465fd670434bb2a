"""URLs of the service-level pages."""

from django.urls import path

from relaydesk.sla import views

app_name = "sla"

urlpatterns = [path("", views.attainment, name="attainment")]
