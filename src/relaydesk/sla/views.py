"""Pages for service levels: SLA attainment figures with a chart, and their CSV."""

from __future__ import annotations

import csv
import io

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_figures_export
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.permissions import roles_required
from relaydesk.sla.forms import AttainmentFilter
from relaydesk.sla.queries import Attainment, attainment_figures
from relaydesk.web import client_ip, spreadsheet_cell


@roles_required(*roles_with(Permission.VIEW_SERVICE_LEVELS))
@require_GET
def attainment(request: HttpRequest) -> HttpResponse:
    """SLA attainment by engagement, service, site, agent or period; ``?format=csv`` for a file."""
    user = request.user
    assert isinstance(user, User)
    form = AttainmentFilter.with_defaults(user, request.GET)
    figures: Attainment | None = None
    if form.is_valid():
        data = form.cleaned_data
        engagement = data.get("engagement")
        service = data.get("service")
        figures = attainment_figures(
            user,
            kind=data["kind"],
            start=data["start"],
            end=data["end"],
            group_by=data["group_by"],
            engagement_id=engagement.pk if engagement else None,
            service_id=service.pk if service else None,
        )
        if request.GET.get("format") == "csv":
            do_record_figures_export(user, "SLA attainment", data, client_ip(request))
            return _csv(figures)
    status = 200 if figures is not None else 400
    return render(
        request,
        "sla/attainment.html",
        {"form": form, "figures": figures, "query": request.GET.urlencode()},
        status=status,
    )


def _csv(figures: Attainment) -> HttpResponse:
    """The figures as the page shows them, one row per group and the total last."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["group", "met", "breached", "decided", "attainment_percent"])
    for row in [*figures.rows, figures.total]:
        percent = "" if row.percent is None else f"{row.percent:.1f}"
        writer.writerow([spreadsheet_cell(row.label), row.met, row.breached, row.decided, percent])
    name = (
        f"sla-{figures.kind.value}-by-{figures.group_by}-"
        f"{figures.start:%Y%m%d}-{figures.end:%Y%m%d}.csv"
    )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
