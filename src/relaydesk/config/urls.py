"""Every URL of Relaydesk."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from relaydesk.config.api import api
from relaydesk.work import urls as work_urls
from relaydesk.work.views import home


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers; says nothing about data."""
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Relaydesk back office"
admin.site.site_title = "Relaydesk"
admin.site.index_title = "Catalog, sites, agents and engagements"

urlpatterns = [
    path("", home, name="home"),
    path("portal/", include(work_urls.portal)),
    path("workspace/", include(work_urls.workspace)),
    path("ops/", include(work_urls.ops)),
    path("items/", include(work_urls.items)),
    path("account/", include("relaydesk.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
]
