"""The real URLs plus two that fail on purpose, for the error-page and log tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from relaydesk.config import urls as real

handler404 = real.handler404
handler500 = real.handler500


@csrf_exempt
def boom(request: HttpRequest) -> HttpResponse:
    """A view with a bug that puts the request body into its exception message."""
    raise RuntimeError(f"could not read form {request.POST.dict()!r} (internal detail 0xDEAD)")


urlpatterns = [
    path("boom/", boom),
    path("api/v1/boom", boom),
    *real.urlpatterns,
]
