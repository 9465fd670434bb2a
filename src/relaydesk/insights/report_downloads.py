"""Serving a report's downloads (the PDF, the items as CSV and XLSX), for pages and the API.

Both go through these functions, so a download is checked, audited and sent the same way
wherever it is asked for: the report must still be kept (410 once retention deleted it),
every download writes a ``report.download`` record with its format, and the answer is an
``attachment`` that the browser never renders inline (``nosniff``, ``private, no-store``).
The PDF is decrypted and authenticated whole before the first byte goes out; a PDF that
fails is refused with :class:`~relaydesk.vault.actions.CannotDecrypt` (409) and audited as
``report.decrypt_failed``. The CSV is streamed as it is written; the XLSX is a ZIP
underneath, so it is built whole and then streamed.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.http import content_disposition_header

from relaydesk.accounts.models import User
from relaydesk.errors import Gone
from relaydesk.insights import report_actions as actions
from relaydesk.insights.report_models import Report
from relaydesk.insights.reports import csv_chunks, item_row, item_rows, items_xlsx, period_items
from relaydesk.vault.actions import CannotDecrypt

__all__ = ["XLSX", "Maker", "check_kept", "csv_response", "pdf_response", "xlsx_response"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: One of the download functions below: (who, which report, from where) -> the response.
Maker = Callable[[User, Report, str | None], HttpResponseBase]


def check_kept(report: Report) -> None:
    """Refuse (410 Gone) the downloads of a report that retention deleted."""
    if report.purged_at is not None:
        day = timezone.localdate(report.purged_at)
        raise Gone(
            f"This report was deleted on {day:%Y-%m-%d} under the engagement's retention "
            "policy; its PDF and items files are no longer available."
        )


def _as_download(response: HttpResponseBase, filename: str) -> HttpResponseBase:
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def pdf_response(user: User, report: Report, source_ip: str | None) -> HttpResponseBase:
    """The report's PDF, decrypted and checked whole, as a download (audited)."""
    check_kept(report)
    try:
        pdf = actions.pdf_of(report)
    except CannotDecrypt as refusal:
        actions.do_record_report_decrypt_failure(user, report, refusal.reason, source_ip=source_ip)
        raise
    actions.do_record_report_download(user, report, "pdf", source_ip=source_ip)
    response = FileResponse(io.BytesIO(pdf), content_type="application/pdf")
    response["Content-Length"] = str(len(pdf))
    return _as_download(response, f"{report.file_stem()}.pdf")


def csv_response(user: User, report: Report, source_ip: str | None) -> HttpResponseBase:
    """The period's items ``user`` sees, as they stand now, streamed as CSV (audited)."""
    check_kept(report)
    items = period_items(user, report.engagement_id, report.period_start, report.period_end)
    actions.do_record_report_download(user, report, "csv", source_ip=source_ip)
    rows = (item_row(item) for item in items.iterator(chunk_size=500))
    response = StreamingHttpResponse(csv_chunks(rows), content_type="text/csv; charset=utf-8")
    return _as_download(response, f"{report.file_stem()}-items.csv")


def xlsx_response(user: User, report: Report, source_ip: str | None) -> HttpResponseBase:
    """The period's items ``user`` sees, as they stand now, as an XLSX workbook (audited)."""
    check_kept(report)
    items = period_items(user, report.engagement_id, report.period_start, report.period_end)
    content = items_xlsx(item_rows(items), title=report.engagement.name)
    actions.do_record_report_download(user, report, "xlsx", source_ip=source_ip)
    response = FileResponse(io.BytesIO(content), content_type=XLSX)
    response["Content-Length"] = str(len(content))
    return _as_download(response, f"{report.file_stem()}-items.xlsx")
