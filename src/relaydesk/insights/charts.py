"""Charts as data: what a dashboard draws, shows as a table and exports as CSV.

A :class:`Chart` holds its labels and series once; the page draws it with the vendored
Chart.js (``static/relaydesk/charts.js``), lists it in a table for people who read
tables, and writes it as CSV, so the three can never disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from relaydesk.web import spreadsheet_cell

__all__ = ["Chart", "Series", "chart_csv"]

#: How a chart draws: lines, bars, stacked bars or horizontal bars.
KINDS = frozenset({"line", "bar", "stacked", "hbar"})


@dataclass(frozen=True, slots=True)
class Series:
    """One line or set of bars: its name and one value per label (``None``: no figure)."""

    label: str
    values: Sequence[float | int | None]
    kind: str | None = None  # draw this series differently from the chart (a target line)
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart of a dashboard: ``key`` names it in URLs (its CSV), ``unit`` follows values
    ("%" or "h"; empty for counts)."""

    key: str
    title: str
    kind: str
    labels: Sequence[str]
    series: Sequence[Series]
    unit: str = ""
    note: str = ""
    label_heading: str = "Day"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown chart kind {self.kind!r}.")
        for series in self.series:
            if len(series.values) != len(self.labels):
                raise ValueError(f"Series {series.label!r} of {self.key!r} has a wrong length.")

    @property
    def dom_id(self) -> str:
        """The id of the figures' JSON block on the page."""
        return f"chart-{self.key}"

    @property
    def is_empty(self) -> bool:
        """No figure at all in the period: the page says so instead of drawing axes."""
        return not any(v for s in self.series for v in s.values if v is not None)

    def spec(self) -> dict[str, Any]:
        """What ``charts.js`` draws."""
        return {
            "kind": self.kind,
            "unit": self.unit,
            "labels": list(self.labels),
            "series": [
                {
                    "label": s.label,
                    "values": list(s.values),
                    "kind": s.kind,
                    "dashed": s.dashed,
                }
                for s in self.series
            ],
        }

    def rows(self) -> list[tuple[str, list[float | int | None]]]:
        """One row per label with each series' value, for the table and the CSV."""
        return [(label, [s.values[i] for s in self.series]) for i, label in enumerate(self.labels)]


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value)


def chart_csv(chart: Chart) -> str:
    """The chart's figures as CSV: a heading row, then one row per label."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([chart.label_heading, *(s.label for s in chart.series)])
    for label, values in chart.rows():
        writer.writerow([spreadsheet_cell(label), *(_cell(v) for v in values)])
    return out.getvalue()
