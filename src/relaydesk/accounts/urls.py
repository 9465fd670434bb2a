"""URLs of a person's own account pages, and a client admin's sign-in rules."""

from django.urls import path

from relaydesk.accounts import views

app_name = "accounts"
urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    path("sign-ins/", views.sign_ins, name="sign_ins"),
    path("client-security/", views.client_security, name="client_security"),
]
