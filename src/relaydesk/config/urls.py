"""Every URL of Relaydesk."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import include, path

from relaydesk.config.api import api
from relaydesk.work import urls as work_urls
from relaydesk.work.views import home


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers; says nothing about data."""
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: no internals, JSON under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Something went wrong on our side; nothing was half-saved. Try again."},
            status=500,
        )
    return HttpResponse(loader.get_template("500.html").render(), status=500)


handler404 = not_found
handler500 = server_error


admin.site.site_header = "Relaydesk back office"
admin.site.site_title = "Relaydesk"
admin.site.index_title = "Catalog, sites, agents and engagements"

urlpatterns = [
    path("", home, name="home"),
    path("portal/audit/", include("relaydesk.audit.urls", namespace="audit")),
    path("portal/export/", include("relaydesk.retention.urls", namespace="retention")),
    path("portal/webhooks/", include("relaydesk.webhooks.urls", namespace="webhooks")),
    path("portal/", include(work_urls.portal)),
    path("workspace/", include(work_urls.workspace)),
    path("ops/board/", include("relaydesk.routing.urls")),
    path("ops/dashboard/", include("relaydesk.insights.provider_urls")),
    path("service-levels/", include("relaydesk.sla.urls")),
    path("dashboard/", include("relaydesk.insights.urls")),
    path("", include("relaydesk.quality.urls")),
    path("", include("relaydesk.notifications.urls")),
    path("ops/", include(work_urls.ops)),
    path("items/", include(work_urls.items)),
    path("clients/", include("relaydesk.clients.urls")),
    path("account/", include("relaydesk.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
]
