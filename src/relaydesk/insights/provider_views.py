"""The operations dashboard page and its CSV files, for operations leads and provider admins."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from relaydesk.accounts.models import User
from relaydesk.audit.actions import do_record_figures_export
from relaydesk.core.permissions import Permission, roles_with
from relaydesk.figures import FiguresFilter
from relaydesk.insights.charts import chart_csv
from relaydesk.insights.provider_queries import (
    HeatMap,
    OperationsDashboard,
    PerformanceRow,
    figure_text,
    operations_dashboard,
)
from relaydesk.permissions import roles_required
from relaydesk.web import client_ip, spreadsheet_cell

__all__ = [
    "HEAT_MAP",
    "TABLES",
    "OperationsFilter",
    "ShownTable",
    "dashboard",
    "heat_map_csv",
    "shown_tables",
    "table_csv",
]


class OperationsFilter(FiguresFilter):
    """The period and engagement the operations dashboard shows (no grouping: it shows
    sites, teams and agents side by side)."""

    def __init__(self, actor: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(actor, *args, **kwargs)
        del self.fields["group_by"]
        del self.fields["service"]


#: The tables' columns: CSV heading, page heading, and how to read it off a row.
TABLE_COLUMNS: list[tuple[str, str, Callable[[PerformanceRow], float | int | None]]] = [
    ("completed", "Completed", lambda r: r.completed),
    ("mean_handle_minutes", "Handle time (min)", lambda r: r.mean_handle_minutes),
    ("hours_on_shift", "On shift (h)", lambda r: r.shift_hours),
    ("utilisation_percent", "Utilisation %", lambda r: r.utilisation),
    ("sla_met", "SLA met", lambda r: r.sla.met),
    ("sla_breached", "SLA missed", lambda r: r.sla.breached),
    ("sla_attainment_percent", "SLA %", lambda r: r.sla_percent),
    ("reviews", "Reviews", lambda r: r.reviews),
    ("quality_score", "Quality score", lambda r: r.quality_score),
]
#: The tables, by their key in ``?chart=``: the CSV's first heading and the page's title.
TABLES = {
    "sites": ("site", "Sites"),
    "teams": ("team", "Teams: the agents of one shift at a site"),
    "agents": ("agent", "Agents"),
}
#: The heat map's key in ``?chart=``.
HEAT_MAP = "heat-map"


@dataclass(frozen=True, slots=True)
class ShownTable:
    """A table of the page: its key (for its CSV), title, and rows of texts as shown."""

    key: str
    title: str
    headings: list[str]
    with_site: bool
    rows: list[tuple[str, str, list[str]]]
    total: tuple[str, list[str]] | None


def _texts(row: PerformanceRow) -> list[str]:
    return [figure_text(read(row)) for _, _, read in TABLE_COLUMNS]


def _rows(figures: OperationsDashboard, key: str) -> list[PerformanceRow]:
    rows: list[PerformanceRow] = getattr(figures, key)
    return [*rows, figures.total] if key == "sites" else rows


def shown_tables(figures: OperationsDashboard) -> list[ShownTable]:
    """The sites, teams and agents tables as the page shows them (sites with the total)."""
    return [
        ShownTable(
            key=key,
            title=title,
            headings=[heading for _, heading, _ in TABLE_COLUMNS],
            with_site=key != "sites",
            rows=[(row.label, row.site, _texts(row)) for row in getattr(figures, key)],
            total=(figures.total.label, _texts(figures.total)) if key == "sites" else None,
        )
        for key, (_, title) in TABLES.items()
    ]


def table_csv(key: str, rows: list[PerformanceRow]) -> str:
    """One of the dashboard's tables (sites, teams, agents) as CSV, figures as shown."""
    out = io.StringIO()
    writer = csv.writer(out)
    with_site = key != "sites"
    columns = [csv_heading for csv_heading, _, _ in TABLE_COLUMNS]
    writer.writerow([TABLES[key][0], *(["site"] if with_site else []), *columns])
    for row in rows:
        writer.writerow(
            [
                spreadsheet_cell(row.label),
                *([spreadsheet_cell(row.site)] if with_site else []),
                *_texts(row),
            ]
        )
    return out.getvalue()


def heat_map_csv(heat: HeatMap) -> str:
    """The heat map as CSV: people on shift per site and UTC hour (daily averages), then
    the arrivals, everyone on shift, the load per person and the days with a gap."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "time_zone", *(f"{h:02d}:00 UTC" for h in heat.hours)])
    for row in heat.rows:
        writer.writerow(
            [
                spreadsheet_cell(f"On shift: {row.site}"),
                row.time_zone,
                *(cell.staff_text for cell in row.cells),
            ]
        )
    footer = heat.footer
    writer.writerow(["Arriving per hour", "", *(load for load, _, _, _, _ in footer)])
    writer.writerow(["On shift: all sites", "", *(staff for _, staff, _, _, _ in footer)])
    writer.writerow(["Items per person on shift", "", *(ratio for _, _, ratio, _, _ in footer)])
    writer.writerow(["Days with a gap", "", *(gap for _, _, _, _, gap in footer)])
    return out.getvalue()


def _csv_response(text: str, key: str, figures: OperationsDashboard) -> HttpResponse:
    filename = f"operations-{key}-{figures.start:%Y%m%d}-{figures.end:%Y%m%d}.csv"
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _download(request: HttpRequest, figures: OperationsDashboard) -> HttpResponse:
    """The CSV of the chart or table named by ``?chart=``; a clear 400 for any other name."""
    key = request.GET.get("chart", "")
    if key in TABLES:
        return _csv_response(table_csv(key, _rows(figures, key)), key, figures)
    if key == HEAT_MAP:
        return _csv_response(heat_map_csv(figures.heat_map), key, figures)
    chart = figures.chart(key)
    if chart is None:
        keys = ", ".join([*(c.key for c in figures.charts()), HEAT_MAP, *TABLES])
        return HttpResponseBadRequest(
            f"Name one of the dashboard's charts or tables: {keys}.", content_type="text/plain"
        )
    return _csv_response(chart_csv(chart), key, figures)


@roles_required(*roles_with(Permission.VIEW_OPERATIONS_DASHBOARD))
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Throughput, handle time, utilisation, SLA and quality per site, team and agent, and
    the coverage heat map; ``?chart=KEY&format=csv`` for one chart's or table's CSV."""
    user = request.user
    assert isinstance(user, User)
    form = OperationsFilter.with_defaults(user, request.GET)
    figures: OperationsDashboard | None = None
    if form.is_valid():
        data = form.cleaned_data
        engagement = data.get("engagement")
        figures = operations_dashboard(
            user,
            start=data["start"],
            end=data["end"],
            engagement_id=engagement.pk if engagement else None,
        )
        if request.GET.get("format") == "csv":
            response = _download(request, figures)
            if response.status_code == 200:
                what = f"Operations dashboard {request.GET.get('chart', '')}"
                do_record_figures_export(user, what, data, client_ip(request))
            return response
    query = request.GET.copy()
    query.pop("chart", None)
    query.pop("format", None)
    return render(
        request,
        "insights/provider_dashboard.html",
        {
            "form": form,
            "figures": figures,
            "charts": figures.charts() if figures is not None else [],
            "tables": shown_tables(figures) if figures is not None else [],
            "heat": figures.heat_map if figures is not None else None,
            "csv_url": "?" + query.urlencode() if query else "?",
        },
        status=200 if figures is not None else 400,
    )
