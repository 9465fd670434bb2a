"""Shapes of engagement reports and their schedules in the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from relaydesk.insights.report_actions import MAX_COMMENTARY

ReportKindName = Literal["on_demand", "scheduled"]
ReportStatusName = Literal["ready", "sent", "not_sent", "purged"]
FrequencyName = Literal["weekly", "monthly"]

_STATUS_HELP = (
    "ready: made on demand; sent: a scheduled report e-mailed to its recipients; not_sent: "
    "a scheduled report not e-mailed (yet); purged: deleted under the engagement's retention "
    "(no PDF, items files or commentary any more)."
)


class ReportIn(Schema):
    """Make an engagement's report now, for a period of UTC days (both ends included)."""

    engagement_id: int
    start: dt.date = Field(description="The first day (UTC).")
    end: dt.date = Field(description="The last day (UTC); today at the latest.")
    commentary: str = Field(
        "",
        max_length=MAX_COMMENTARY,
        description="Printed in the report; only the provider's delivery leads write it.",
    )


class ReportCostOut(Schema):
    currency: str
    total: Decimal


class ReportHeadlineOut(Schema):
    """The headline figures the report printed, as its page shows them."""

    received: int
    delivered: int
    backlog: int
    in_rework: int
    sla_attainment_percent: float | None
    quality_score: float | None
    mean_turnaround_hours: Decimal | None
    cost: list[ReportCostOut]


class ReportOut(Schema):
    """A kept report: its period, where it stands, the figures it printed and its links."""

    id: int
    engagement_id: int
    engagement: str
    client: str
    kind: ReportKindName
    schedule_id: int | None
    period_start: dt.date
    period_end: dt.date
    status: ReportStatusName = Field(description=_STATUS_HELP)
    created_at: dt.datetime
    created_by: str | None = Field(
        description='Who made it on demand ("the provider" for a client\'s people when '
        "the provider made it); empty for a scheduled report."
    )
    commentary: str
    commentary_at: dt.datetime | None
    sent_at: dt.datetime | None
    purged_at: dt.datetime | None
    pdf_size: int = Field(description="The PDF's size in bytes.")
    pdf_sha256: str
    headline: ReportHeadlineOut
    page_url: str = Field(description="The report's page.")
    pdf_url: str | None = Field(description="Download the PDF; empty once purged.")
    csv_url: str | None = Field(
        description="Download the period's items as CSV; empty once purged."
    )
    xlsx_url: str | None = Field(
        description="Download the period's items as XLSX; empty once purged."
    )


class ReportObjectiveOut(Schema):
    """An objective as it stood at the end of the report's period."""

    label: str
    value: Decimal | None
    target: Decimal
    value_text: str
    target_text: str
    at_most: bool
    status: str
    period: str
    agreed: bool


class ReportSeriesOut(Schema):
    label: str
    values: list[float | None]


class ReportChartOut(Schema):
    key: str
    title: str
    unit: str
    labels: list[str]
    series: list[ReportSeriesOut]


class ReportDetailOut(ReportOut):
    """One report with everything it printed: objectives and every chart's series too."""

    objectives_as_at: dt.date
    objectives: list[ReportObjectiveOut]
    charts: list[ReportChartOut]


class ReportPage(Schema):
    count: int
    items: list[ReportOut]


class RecipientOut(Schema):
    id: int
    name: str
    email: str


class ScheduleIn(Schema):
    """Send an engagement's report every week (Mondays) or month (the 1st)."""

    engagement_id: int
    frequency: FrequencyName
    recipients: list[int] = Field(
        description="Ids of the people to e-mail, among those who may see the engagement's "
        "reports; at least one."
    )
    attach_xlsx: bool = False
    attach_csv: bool = False


class SchedulePatch(Schema):
    """The fields to change; those left out stay as they are."""

    recipients: list[int] | None = Field(
        None,
        description="Ids of the people to e-mail. A client's admin chooses among the "
        "client's people; the provider's recipients stay.",
    )
    attach_xlsx: bool | None = None
    attach_csv: bool | None = None
    active: bool | None = Field(None, description="false pauses it: nothing more is sent.")


class ScheduleOut(Schema):
    """A schedule: what it sends, when, to whom."""

    id: int
    engagement_id: int
    engagement: str
    frequency: FrequencyName
    cadence: str = Field(description='When it sends: "every Monday", "on the 1st of each month".')
    active: bool
    attach_xlsx: bool
    attach_csv: bool
    recipients: list[RecipientOut]
    other_recipients: int = Field(
        description="Recipients on the provider's side that a client's people are not shown."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str
    page_url: str
