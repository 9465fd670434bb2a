"""URLs of the client pages."""

from django.urls import path

from relaydesk.clients import views

app_name = "clients"
urlpatterns = [
    path("", views.client_list, name="list"),
    path("security/", views.my_security, name="my_security"),
    path("<slug:client_slug>/security/", views.security, name="security"),
]
