"""URLs of the QA pages: scoring an item, disputing a review, and the leads' disputes."""

from django.urls import path

from relaydesk.quality import views

app_name = "quality"

urlpatterns = [
    path("items/<int:item_id>/review/", views.submit_review, name="review"),
    path("reviews/<int:review_id>/dispute/", views.dispute_review, name="dispute"),
    path("ops/quality/disputes/", views.disputes, name="disputes"),
    path("ops/quality/disputes/<int:dispute_id>/decide/", views.decide_dispute, name="decide"),
]
