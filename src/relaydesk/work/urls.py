"""URLs of the work pages, one namespace per audience."""

from django.urls import path

from relaydesk.work import views

portal = (
    [
        path("", views.portal_items, name="items"),
        path("new/", views.portal_submit, name="submit"),
        path("import/", views.portal_import, name="import"),
    ],
    "portal",
)

workspace = (
    [
        path("", views.workspace_home, name="home"),
        path("reviews/", views.workspace_reviews, name="reviews"),
        path("next/", views.workspace_next, name="next"),
        path("presence/", views.workspace_presence, name="presence"),
        path("items/<int:item_id>/handoff/", views.workspace_hand_off, name="hand_off"),
        path(
            "handoffs/<int:handoff_id>/acknowledge/",
            views.workspace_acknowledge,
            name="acknowledge",
        ),
    ],
    "workspace",
)

ops = ([path("", views.ops_items, name="items")], "ops")

items = (
    [
        path("<int:item_id>/", views.item_detail, name="detail"),
        path("<int:item_id>/actions/<slug:action>/", views.item_act, name="act"),
        path("<int:item_id>/assign/", views.item_assign, name="assign"),
        path("<int:item_id>/sensitive/", views.item_reveal, name="reveal"),
        path("<int:item_id>/comments/", views.item_comment, name="comment"),
        path("<int:item_id>/attachments/", views.item_attach, name="attach"),
        path(
            "<int:item_id>/attachments/<int:attachment_id>/",
            views.attachment_download,
            name="download",
        ),
    ],
    "items",
)
