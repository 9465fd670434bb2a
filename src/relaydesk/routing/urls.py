"""URLs of the routing pages: the operations board."""

from django.urls import path

from relaydesk.routing import views

app_name = "board"

urlpatterns = [path("", views.board, name="board")]
