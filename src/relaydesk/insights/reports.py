"""Building engagement reports: their figures, the PDF, the items files, and who sees them.

A report prints the client dashboard of one engagement for a period of UTC days
(:func:`relaydesk.insights.queries.client_dashboard`) and the engagement's objectives
(:func:`relaydesk.insights.objectives.standing`), always as the client's own people see
them, whoever asks for it. The figures are taken once into a summary (plain JSON) that is
kept with the report; the PDF is drawn from that summary alone, the charts by
:mod:`relaydesk.insights.svg` from the very :class:`~relaydesk.insights.charts.Chart`
objects the dashboard draws, so the report and the dashboard never disagree, and a kept
report shows what it said when it was made.

The items files (CSV, XLSX) list the items received or delivered in the period as they
stand when downloaded, without anything internal to the provider.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import tablib
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.clients.queries import visible_engagements
from relaydesk.core.permissions import Permission, can, roles_with
from relaydesk.core.roles import CLIENT_ROLES, PROVIDER_ROLES, Role
from relaydesk.figures import utc_bounds
from relaydesk.insights.charts import Chart, Series
from relaydesk.insights.objectives import standing
from relaydesk.insights.queries import ClientDashboard, client_dashboard, dashboard_items
from relaydesk.insights.report_models import Report, ReportSchedule
from relaydesk.insights.svg import chart_svg
from relaydesk.web import spreadsheet_cell
from relaydesk.work.models import Priority, WorkItem

__all__ = [
    "ITEM_HEADINGS",
    "SUMMARY_VERSION",
    "ReportUnavailable",
    "charts_of",
    "csv_chunks",
    "eligible_recipients",
    "item_row",
    "item_rows",
    "items_csv",
    "items_xlsx",
    "period_items",
    "render_pdf",
    "report_html",
    "report_reader",
    "report_summary",
    "visible_reports",
    "visible_schedules",
]

#: The shape of :func:`report_summary`'s JSON; a kept report names the one it was made with.
SUMMARY_VERSION = 1
#: The columns of the items files, in order.
ITEM_HEADINGS = (
    "Reference",
    "Title",
    "Service",
    "Jurisdiction",
    "Priority",
    "State",
    "Received (UTC)",
    "Delivered (UTC)",
    "Turnaround (hours)",
)
# A chart's table in the PDF: past this many rows it is set in side-by-side columns.
_TABLE_ROWS = 11
_TABLE_COLUMNS = 3
_HOUR = Decimal(3600)
# A streamed CSV goes out this many rows at a time.
_CSV_CHUNK_ROWS = 500


class ReportUnavailable(RuntimeError):
    """The PDF cannot be drawn on this machine (WeasyPrint or its Pango libraries missing)."""


# -- who sees what -------------------------------------------------------------------------


def visible_reports(actor: User) -> QuerySet[Report]:
    """The kept reports ``actor`` may see, newest first: every client's for the provider's
    leads and admins, their own client's for its people, none for anyone else."""
    if not can(actor.role_enum, Permission.VIEW_REPORTS):
        return Report.objects.none()
    return (
        Report.objects.filter(engagement__in=visible_engagements(actor).values("pk"))
        .select_related("engagement__client", "created_by", "commentary_by")
        .order_by("-created_at", "-pk")
    )


def visible_schedules(actor: User) -> QuerySet[ReportSchedule]:
    """The report schedules ``actor`` may see (as :func:`visible_reports`)."""
    if not can(actor.role_enum, Permission.VIEW_REPORTS):
        return ReportSchedule.objects.none()
    return (
        ReportSchedule.objects.filter(engagement__in=visible_engagements(actor).values("pk"))
        .select_related("engagement__client", "created_by")
        .prefetch_related("recipients")
        .order_by("engagement__client__name", "engagement__name", "frequency", "pk")
    )


def eligible_recipients(actor: User | None, engagement: Engagement) -> QuerySet[User]:
    """Who a schedule of ``engagement`` may e-mail: the client's people who see reports,
    and, when the provider chooses (``actor`` None: the system), the provider's people who
    see every engagement's reports. A client's admin chooses among their own people."""
    client_roles = [r.value for r in roles_with(Permission.VIEW_REPORTS) & CLIENT_ROLES]
    provider_roles = [
        r.value
        for r in roles_with(Permission.VIEW_REPORTS) & PROVIDER_ROLES
        if can(r, Permission.VIEW_ALL_ENGAGEMENTS)
    ]
    allowed = Q(client_id=engagement.client_id, role__in=client_roles)
    if actor is None or actor.is_provider_staff:
        allowed |= Q(client__isnull=True, role__in=provider_roles)
    return User.objects.filter(allowed, is_active=True).order_by("client_id", "full_name", "email")


def report_reader(engagement: Engagement) -> User:
    """A stand-in for the client's people, never saved: reports are counted as the client
    sees its dashboard, whoever makes them (the provider sees more of other clients, never
    more of this engagement)."""
    return User(
        email="",
        full_name=f"{engagement.client.name} reader",
        role=Role.CLIENT_MEMBER.value,
        client_id=engagement.client_id,
        time_zone=engagement.time_zone,
        is_active=True,
    )


# -- the figures ---------------------------------------------------------------------------


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _chart_data(chart: Chart) -> dict[str, Any]:
    return {
        "key": chart.key,
        "title": chart.title,
        "kind": chart.kind,
        "unit": chart.unit,
        "note": chart.note,
        "label_heading": chart.label_heading,
        "labels": list(chart.labels),
        "series": [
            {"label": s.label, "values": list(s.values), "kind": s.kind, "dashed": s.dashed}
            for s in chart.series
        ],
    }


def charts_of(summary: dict[str, Any]) -> list[Chart]:
    """The charts a summary kept, as the :class:`Chart` objects they were made from."""
    return [
        Chart(
            key=c["key"],
            title=c["title"],
            kind=c["kind"],
            labels=c["labels"],
            series=[
                Series(s["label"], s["values"], s.get("kind"), s.get("dashed", False))
                for s in c["series"]
            ],
            unit=c.get("unit", ""),
            note=c.get("note", ""),
            label_heading=c.get("label_heading", "Day"),
        )
        for c in summary.get("charts", [])
    ]


def _objective_data(reader: User, engagement: Engagement, as_at: dt.date) -> list[dict[str, Any]]:
    from relaydesk.insights.queries import live_objectives

    rows = []
    for objective in live_objectives(reader, engagement_id=engagement.pk):
        found = standing(reader, objective, today=as_at)
        rows.append(
            {
                "label": found.definition.label,
                "unit": found.definition.unit,
                "at_most": found.definition.at_most,
                "period": found.definition.period,
                "value": _text(found.value),
                "target": str(objective.target),
                # As the dashboard's objective cards write them.
                "value_text": found.value_text,
                "target_text": found.target_text,
                "status": found.status,
                "currency": found.currency,
                "agreed": objective.is_agreed,
                "note": objective.note,
            }
        )
    return rows


def report_summary(
    engagement: Engagement, *, start: dt.date, end: dt.date, at: dt.datetime
) -> dict[str, Any]:
    """Every figure a report of ``engagement`` for ``start`` to ``end`` prints, as plain
    JSON: headline figures and charts of the client dashboard, and the objectives as they
    stood at the end of the period (or ``at``, if that is earlier)."""
    reader = report_reader(engagement)
    figures: ClientDashboard = client_dashboard(
        reader, start=start, end=end, engagement_id=engagement.pk
    )
    as_at = min(end, at.astimezone(dt.UTC).date())
    return {
        "version": SUMMARY_VERSION,
        "client": engagement.client.name,
        "engagement": engagement.name,
        "time_zone": engagement.time_zone,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "generated_at": at.astimezone(dt.UTC).isoformat(),
        "objectives_as_at": as_at.isoformat(),
        "headline": {
            "received": figures.received,
            "delivered": figures.delivered,
            "backlog": figures.backlog,
            "in_rework": figures.in_rework,
            "attainment": figures.attainment,
            "quality_score": figures.quality_score,
            "mean_turnaround": _text(figures.mean_turnaround),
            "costs": [{"currency": c.currency, "total": str(c.total)} for c in figures.costs],
        },
        "objectives": _objective_data(reader, engagement, as_at),
        "charts": [_chart_data(chart) for chart in figures.charts],
    }


# -- the PDF -------------------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _table_parts(chart: Chart) -> list[list[tuple[str, list[float | int | None]]]]:
    """The chart's rows, split into up to three side-by-side tables when long."""
    rows = chart.rows()
    if len(rows) <= _TABLE_ROWS:
        return [rows]
    columns = min(_TABLE_COLUMNS, -(-len(rows) // _TABLE_ROWS))
    per = -(-len(rows) // columns)
    return [rows[n : n + per] for n in range(0, len(rows), per)]


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def report_context(summary: dict[str, Any], *, commentary: str = "") -> dict[str, Any]:
    """What the report's templates (PDF and page) show: the summary with its charts drawn,
    numbers as the dashboard writes them, and times in the engagement's time zone."""
    zone = _zone(summary.get("time_zone", "UTC"))
    generated = dt.datetime.fromisoformat(summary["generated_at"]).astimezone(zone)
    headline = dict(summary["headline"])
    headline["mean_turnaround"] = _decimal(headline.get("mean_turnaround"))
    headline["costs"] = [
        {"currency": c["currency"], "total": Decimal(c["total"])} for c in headline["costs"]
    ]
    objectives = [
        {**o, "value": _decimal(o["value"]), "target": Decimal(o["target"])}
        for o in summary.get("objectives", [])
    ]
    charts = [
        {"chart": chart, "svg": chart_svg(chart), "tables": _table_parts(chart)}
        for chart in charts_of(summary)
    ]
    return {
        "summary": summary,
        "client_name": summary["client"],
        "engagement_name": summary["engagement"],
        "start": dt.date.fromisoformat(summary["start"]),
        "end": dt.date.fromisoformat(summary["end"]),
        "objectives_as_at": dt.date.fromisoformat(summary["objectives_as_at"]),
        "generated_local": generated,
        "zone_name": str(zone),
        "headline": headline,
        "objectives": objectives,
        "charts": charts,
        "commentary": commentary.strip(),
    }


def report_html(summary: dict[str, Any], *, commentary: str = "") -> str:
    """The report as the HTML document WeasyPrint lays out as the PDF."""
    # Times print in the engagement's zone, whoever is viewing when the PDF is drawn.
    with timezone.override(_zone(summary.get("time_zone", "UTC"))):
        return render_to_string(
            "insights/reports/pdf.html", report_context(summary, commentary=commentary)
        )


def render_pdf(html: str) -> bytes:
    """``html`` laid out as a PDF by WeasyPrint, fetching nothing: every image is inline,
    and any other address (web, files) is refused. Fonts are the system's (DejaVu)."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as problem:  # Pango missing: the rest of Relaydesk runs on
        raise ReportUnavailable(
            "Reports cannot be drawn on this server: WeasyPrint and its Pango libraries are "
            "not installed (docs/reports.md)."
        ) from problem
    # Its progress is no news for the operators' log; warnings still are.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    fetcher = URLFetcher(allowed_protocols=("data",), timeout=1, allow_redirects=False)
    pdf = HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


# -- the items -----------------------------------------------------------------------------


def period_items(
    actor: User, engagement_id: int, start: dt.date, end: dt.date
) -> QuerySet[WorkItem]:
    """The items of the engagement ``actor`` sees that were received or delivered from
    ``start`` to ``end`` (UTC days), oldest first."""
    begin, finish = utc_bounds(start, end)
    return (
        dashboard_items(actor, engagement_id=engagement_id)
        .filter(
            Q(created_at__gte=begin, created_at__lt=finish)
            | Q(delivered_at__gte=begin, delivered_at__lt=finish)
        )
        .select_related("service")
        .order_by("created_at", "pk")
    )


def _utc_text(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _turnaround(item: WorkItem) -> Decimal | None:
    if item.delivered_at is None:
        return None
    seconds = Decimal((item.delivered_at - item.created_at).total_seconds())
    return (seconds / _HOUR).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def item_row(item: WorkItem) -> tuple[Any, ...]:
    """The item in :data:`ITEM_HEADINGS` order: what the client knows of it, never who
    worked it or what the provider noted internally."""
    return (
        item.reference,
        item.title,
        item.service.name,
        item.jurisdiction,
        Priority(item.priority).label,
        item.state_enum.label,
        _utc_text(item.created_at),
        _utc_text(item.delivered_at),
        _turnaround(item),
    )


def item_rows(items: Iterable[WorkItem]) -> list[tuple[Any, ...]]:
    """One row per item (:func:`item_row`)."""
    return [item_row(item) for item in items]


def csv_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """The rows as CSV, headings first, a few hundred rows at a time (for streaming);
    every cell guarded so a spreadsheet never runs one as a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ITEM_HEADINGS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([spreadsheet_cell(cell) for cell in row])
        if count % _CSV_CHUNK_ROWS == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def items_csv(rows: Sequence[tuple[Any, ...]]) -> str:
    """The rows as CSV, all at once (:func:`csv_chunks`)."""
    return "".join(csv_chunks(rows))


def _xlsx_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return float(value)
    # The writer would store text starting with "=" as a formula.
    return spreadsheet_cell(value) if str(value).startswith("=") else str(value)


def items_xlsx(rows: Sequence[tuple[Any, ...]], *, title: str = "Items") -> bytes:
    """The rows as an XLSX workbook of one sheet; turnaround as numbers, times as text."""
    data = tablib.Dataset(headers=list(ITEM_HEADINGS), title=title[:31] or "Items")
    for row in rows:
        data.append([_xlsx_cell(cell) for cell in row])
    content = data.export("xlsx")
    assert isinstance(content, bytes)
    return content
