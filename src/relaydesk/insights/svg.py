"""Charts drawn on the server as SVG, for the reports' PDF and their pages.

WeasyPrint runs no JavaScript, so the reports cannot use the dashboard's Chart.js. This
draws the very same :class:`~relaydesk.insights.charts.Chart` objects the dashboard draws
(lines, grouped bars, stacked bars and horizontal bars, a series drawn as a line over bars,
dashed series), in the same colours, from the same figures: what the PDF shows is what the
dashboard showed. Text is escaped; the drawing needs no font but the system's sans-serif.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from relaydesk.insights.charts import Chart, Series

__all__ = ["PALETTE", "chart_svg", "number_text"]

#: The dashboard's colours (``static/relaydesk/charts.js``), series by series.
PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777")
_INK, _MUTED, _GRID, _AXIS = "#1f2937", "#6b7280", "#e5e7eb", "#9ca3af"
_FONT = "DejaVu Sans, Verdana, sans-serif"
_TEXT = 9.0  # font size of ticks and legend
_CHAR = 0.62  # a DejaVu Sans character is at most about this many font sizes wide (average)
_TICKS = 5


def number_text(value: float | int | None, unit: str = "") -> str:
    """A value as the chart's axis and table read it: at most one decimal, thousands
    separated, with its unit ("–" for no figure)."""
    if value is None:
        return "–"
    rounded = round(float(value), 1)
    text = f"{rounded:,.0f}" if rounded == int(rounded) else f"{rounded:,.1f}"
    return f"{text} %" if unit == "%" else f"{text} {unit}" if unit else text


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _text_width(text: str, size: float = _TEXT) -> float:
    return len(text) * size * _CHAR


def _clip(text: str, width: float, size: float = _TEXT) -> str:
    """``text`` cut with an ellipsis to fit ``width``."""
    most = max(int(width / (size * _CHAR)), 1)
    return text if len(text) <= most else text[: max(most - 1, 1)] + "…"


@dataclass(frozen=True, slots=True)
class _Scale:
    """The value axis: from ``low`` to ``high`` with ticks every ``step``."""

    low: float
    high: float
    step: float

    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [self.low + n * self.step for n in range(count + 1)]

    def at(self, value: float, start: float, length: float) -> float:
        """Where ``value`` falls along an axis that starts at ``start`` and is ``length`` long."""
        span = (self.high - self.low) or 1.0
        return start + length * (value - self.low) / span


def _nice_step(span: float) -> float:
    raw = span / _TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _scale(values: Sequence[float], unit: str) -> _Scale:
    """From zero (or below, for negative figures) to a round number above the highest;
    per cents reach at least 100, as on the dashboard."""
    high = max([0.0, *values])
    low = min([0.0, *values])
    if unit == "%":
        high = max(high, 100.0)
    if high == low:
        high = low + 1.0
    step = _nice_step(high - low)
    # Whole counts never get fractional ticks.
    if step < 1 and all(float(v).is_integer() for v in values) and unit != "%":
        step = 1.0
    return _Scale(math.floor(low / step) * step, math.ceil(high / step) * step, step)


def _stacked_totals(series: Sequence[Series], count: int) -> list[float]:
    highs = []
    for index in range(count):
        up = sum(float(s.values[index] or 0) for s in series if (s.values[index] or 0) > 0)
        down = sum(float(s.values[index] or 0) for s in series if (s.values[index] or 0) < 0)
        highs.extend([up, down])
    return highs


def _label_step(labels: Sequence[str], room: float) -> int:
    """Show every n-th label so that they do not overlap."""
    if not labels:
        return 1
    widest = max(_text_width(label) for label in labels) + 6
    fits = max(int(room / widest), 1)
    return max(math.ceil(len(labels) / fits), 1)


def _points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _legend(chart: Chart, width: float, top: float) -> list[str]:
    """One row of swatches and names under the plot (only for more than one series)."""
    if len(chart.series) < 2:
        return []
    parts, x = [], 0.0
    entries = []
    for index, series in enumerate(chart.series):
        entry = _text_width(series.label) + 22
        entries.append((index, series, entry))
        x += entry
    x = max((width - x) / 2, 4.0)
    for index, series, entry in entries:
        colour = _colour(index)
        line = series.kind == "line" or chart.kind == "line"
        if line:
            dash = ' stroke-dasharray="5 3"' if series.dashed else ""
            parts.append(
                f'<line x1="{x:.1f}" y1="{top + 5:.1f}" x2="{x + 14:.1f}" y2="{top + 5:.1f}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
            )
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="12" height="10" fill="{colour}"/>'
            )
        parts.append(
            f'<text x="{x + 18:.1f}" y="{top + 8.5:.1f}" fill="{_INK}">'
            f"{escape(series.label)}</text>"
        )
        x += entry
    return parts


def _empty(chart: Chart, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" width="{width}" '
        f'height="{height // 3}" viewBox="0 0 {width} {height // 3}" role="img" '
        f"aria-label={quoteattr(chart.title)}><title>{escape(chart.title)}</title>"
        f'<text x="{width / 2:.1f}" y="{height / 6:.1f}" text-anchor="middle" '
        f'font-family="{_FONT}" font-size="11" fill="{_MUTED}">Nothing in this period.</text>'
        "</svg>"
    )


def chart_svg(chart: Chart, *, width: int = 640, height: int = 240) -> str:
    """``chart`` as a standalone ``<svg>`` element ``width`` × ``height`` points.

    Lines span days without a figure (as on the dashboard); bars of a missing figure are
    left out. Horizontal bars grow downwards with their labels on the left; a chart with
    more than one series gets a legend underneath.
    """
    if chart.is_empty:
        return _empty(chart, width, height)
    count = len(chart.labels)
    legend_room = 18.0 if len(chart.series) > 1 else 0.0
    horizontal = chart.kind == "hbar"
    stacked = chart.kind == "stacked"
    values = [float(v) for s in chart.series for v in s.values if v is not None]
    if stacked:
        # Bars add up; a series drawn as a line over them stands alone.
        piled = [s for s in chart.series if s.kind != "line"]
        alone = [
            float(v) for s in chart.series if s.kind == "line" for v in s.values if v is not None
        ]
        values = _stacked_totals(piled, count) + alone
    scale = _scale(values, chart.unit)
    tick_texts = [number_text(t, chart.unit) for t in scale.ticks()]
    if horizontal:
        # Horizontal bars: labels left, values along the bottom.
        row = max(14.0, 6.0 + 7.0 * len(chart.series))
        plot_h = row * count
        height = int(plot_h + 30 + legend_room)
        label_w = min(max(_text_width(label) for label in chart.labels) + 14, width * 0.34)
        left, right, top = label_w, width - 12.0, 6.0
        bottom = top + plot_h
    else:
        left = max(_text_width(t) for t in tick_texts) + 10
        right, top = width - 10.0, 8.0
        bottom = height - 22.0 - legend_room
    plot_w, plot_h = right - left, bottom - top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label={quoteattr(chart.title)} font-family="{_FONT}" '
        f'font-size="{_TEXT}">',
        f"<title>{escape(chart.title)}</title>",
    ]
    # Grid and value ticks.
    for tick, text in zip(scale.ticks(), tick_texts, strict=True):
        if horizontal:
            x = scale.at(tick, left, plot_w)
            out.append(
                f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
                f'stroke="{_GRID}" stroke-width="0.7"/>'
            )
            out.append(
                f'<text x="{x:.1f}" y="{bottom + 12:.1f}" text-anchor="middle" '
                f'fill="{_MUTED}">{escape(text)}</text>'
            )
        else:
            y = scale.at(tick, bottom, -plot_h)
            out.append(
                f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" '
                f'stroke="{_GRID}" stroke-width="0.7"/>'
            )
            out.append(
                f'<text x="{left - 5:.1f}" y="{y + 3:.1f}" text-anchor="end" '
                f'fill="{_MUTED}">{escape(text)}</text>'
            )
    # The category axis and its labels.
    band = (plot_h if horizontal else plot_w) / max(count, 1)
    if horizontal:
        for index, label in enumerate(chart.labels):
            y = top + band * (index + 0.5)
            out.append(
                f'<text x="{left - 5:.1f}" y="{y + 3:.1f}" text-anchor="end" '
                f'fill="{_INK}">{escape(_clip(label, label_w - 6))}</text>'
            )
        zero = scale.at(0.0, left, plot_w)
        out.append(
            f'<line x1="{zero:.1f}" y1="{top:.1f}" x2="{zero:.1f}" y2="{bottom:.1f}" '
            f'stroke="{_AXIS}" stroke-width="0.8"/>'
        )
    else:
        step = _label_step(chart.labels, plot_w)
        for index, label in enumerate(chart.labels):
            if index % step:
                continue
            x = left + band * (index + 0.5)
            out.append(
                f'<text x="{x:.1f}" y="{bottom + 12:.1f}" text-anchor="middle" '
                f'fill="{_MUTED}">{escape(_clip(label, band * step - 4))}</text>'
            )
        zero = scale.at(0.0, bottom, -plot_h)
        out.append(
            f'<line x1="{left:.1f}" y1="{zero:.1f}" x2="{right:.1f}" y2="{zero:.1f}" '
            f'stroke="{_AXIS}" stroke-width="0.8"/>'
        )
    # Bars first, lines over them.
    as_bars = [
        (i, s)
        for i, s in enumerate(chart.series)
        if chart.kind != "line" and (s.kind or chart.kind) != "line"
    ]
    as_lines = [(i, s) for i, s in enumerate(chart.series) if (i, s) not in as_bars]
    out.extend(_bars(chart, as_bars, scale, left, top, plot_w, plot_h, band))
    for index, series in as_lines:
        out.extend(_line(series, index, scale, left, top, plot_w, plot_h, band, horizontal))
    out.extend(_legend(chart, width, height - legend_room + 2))
    out.append("</svg>")
    return "".join(out)


def _bars(
    chart: Chart,
    bars: list[tuple[int, Series]],
    scale: _Scale,
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    band: float,
) -> list[str]:
    """Grouped (or stacked) bars, vertical or horizontal."""
    if not bars:
        return []
    horizontal, stacked = chart.kind == "hbar", chart.kind == "stacked"
    inner = band * 0.78
    slots = 1 if stacked else len(bars)
    thick = inner / slots
    out = []
    for position in range(len(chart.labels)):
        start = band * position + (band - inner) / 2
        up = down = 0.0
        for slot, (index, series) in enumerate(bars):
            value = series.values[position]
            if value is None:
                continue
            value = float(value)
            if stacked:
                base = up if value >= 0 else down
                low, high = sorted((base, base + value))
                if value >= 0:
                    up += value
                else:
                    down += value
                offset = start
            else:
                low, high = sorted((0.0, value))
                offset = start + thick * slot
            colour = _colour(index)
            if horizontal:
                x0, x1 = scale.at(low, left, plot_w), scale.at(high, left, plot_w)
                out.append(
                    f'<rect x="{x0:.1f}" y="{top + offset:.1f}" width="{max(x1 - x0, 0):.1f}" '
                    f'height="{thick * 0.92:.1f}" fill="{colour}"/>'
                )
            else:
                bottom = top + plot_h
                y0, y1 = scale.at(high, bottom, -plot_h), scale.at(low, bottom, -plot_h)
                out.append(
                    f'<rect x="{left + offset:.1f}" y="{y0:.1f}" width="{thick * 0.92:.1f}" '
                    f'height="{max(y1 - y0, 0):.1f}" fill="{colour}"/>'
                )
    return out


def _line(
    series: Series,
    index: int,
    scale: _Scale,
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    band: float,
    horizontal: bool,
) -> list[str]:
    """One series as a line through its figures, spanning those it has none for."""
    points = []
    for position, value in enumerate(series.values):
        if value is None:
            continue
        middle = band * (position + 0.5)
        if horizontal:
            points.append((scale.at(float(value), left, plot_w), top + middle))
        else:
            points.append((left + middle, scale.at(float(value), top + plot_h, -plot_h)))
    colour = _colour(index)
    dash = ' stroke-dasharray="5 3"' if series.dashed else ""
    out = []
    if len(points) > 1:
        out.append(
            f'<polyline points="{_points(points)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.8" stroke-linejoin="round"{dash}/>'
        )
    radius = 1.8 if len(points) <= 40 else 1.0
    out.extend(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}"/>' for x, y in points
    )
    return out
