"""URLs of one's notifications and notification settings."""

from django.urls import path

from relaydesk.notifications import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/read/", views.mark_all_read, name="read_all"),
    path("notifications/<int:notification_id>/", views.open_notification, name="open"),
    path("notifications/<int:notification_id>/read/", views.mark_read, name="read"),
    path("account/notifications/", views.preferences, name="preferences"),
]
