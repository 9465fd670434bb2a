"""URLs of the webhook pages, under /portal/webhooks/."""

from django.urls import path

from relaydesk.webhooks import views

app_name = "webhooks"

_ENDPOINT = "<int:endpoint_id>/"
_DELIVERY = _ENDPOINT + "deliveries/<int:delivery_id>/"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_new, name="new"),
    path(_ENDPOINT, views.endpoint_detail, name="detail"),
    path(_ENDPOINT + "edit/", views.endpoint_edit, name="edit"),
    path(_ENDPOINT + "toggle/", views.endpoint_toggle, name="toggle"),
    path(_ENDPOINT + "roll-secret/", views.endpoint_roll, name="roll"),
    path(_ENDPOINT + "test/", views.endpoint_test, name="test"),
    path(_ENDPOINT + "delete/", views.endpoint_delete, name="delete"),
    path(_DELIVERY, views.delivery_detail, name="delivery"),
    path(_DELIVERY + "retry/", views.delivery_retry, name="retry"),
]
