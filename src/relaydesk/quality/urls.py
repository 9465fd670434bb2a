"""URLs of the QA pages: figures, scoring an item, one's reviews, disputing a review, the
leads' disputes, and calibration sessions."""

from django.urls import path

from relaydesk.quality import calibration_views, views

app_name = "quality"

# Calibration: sessions where several reviewers score the same items blind.
_SESSION = "ops/quality/calibration/<int:calibration_id>/"
_SESSION_ITEM = _SESSION + "items/<int:item_id>/"

urlpatterns = [
    path("quality/", views.figures, name="figures"),
    path("quality/mine/", views.my_reviews, name="mine"),
    path("items/<int:item_id>/review/", views.submit_review, name="review"),
    path("reviews/<int:review_id>/dispute/", views.dispute_review, name="dispute"),
    path("ops/quality/disputes/", views.disputes, name="disputes"),
    path("ops/quality/disputes/<int:dispute_id>/decide/", views.decide_dispute, name="decide"),
    path("ops/quality/calibration/", calibration_views.calibration_list, name="calibration"),
    path("ops/quality/calibration/new/", calibration_views.calibration_new, name="calibration_new"),
    path(_SESSION, calibration_views.calibration_session, name="calibration_session"),
    path(_SESSION + "close/", calibration_views.calibration_close, name="calibration_close"),
    path(_SESSION_ITEM, calibration_views.calibration_item, name="calibration_item"),
    path(_SESSION_ITEM + "score/", calibration_views.calibration_score, name="calibration_score"),
    path(
        _SESSION_ITEM + "files/<int:attachment_id>/",
        calibration_views.calibration_file,
        name="calibration_file",
    ),
]
