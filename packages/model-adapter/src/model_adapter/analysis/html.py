"""Render an `AnalysisReport` as one self-contained HTML page with inline SVG charts.

Why SVG drawn here rather than matplotlib PNGs: the report's charts are heat maps, line charts
and bar charts of at most a few thousand cells, which a few lines of SVG draw exactly; doing it
ourselves keeps model-adapter's only dependency torch (no plotting extra to install, no "plots
need matplotlib" gaps in the page), the page opens anywhere without network, and the JSON and
the page are drawn from the same numbers.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_adapter.analysis.report import AnalysisReport, Figure, SectionResult

__all__ = ["render_figure", "render_report"]

_PALETTE = ("#0b61a4", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#3d405b")
_STATUS_COLOURS = {"ok": "#1a7f37", "skipped": "#9a6700", "failed": "#cf222e"}
_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px; color: #1f2328; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #d0d7de; }
.status { font-size: 13px; padding: 1px 6px; border-radius: 4px; color: white; margin-left: 6px; }
ul.summary li { margin: 2px 0; } .settings { font-size: 13px; color: #57606a; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; background: #fff; }
figcaption { font-size: 12px; color: #57606a; max-width: 420px; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
td, th { border: 1px solid #d0d7de; padding: 2px 6px; text-align: right; }
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


def _colour(value: float, low: float, high: float) -> str:
    """White to dark blue: how much of the row's attention (or the value's share of the range)."""
    share = 0.0 if high <= low else min(max((value - low) / (high - low), 0.0), 1.0)
    red = round(255 - share * (255 - 11))
    green = round(255 - share * (255 - 97))
    blue = round(255 - share * (255 - 164))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _heatmap(data: dict[str, Any], title: str) -> str:
    matrix = [
        [(v if isinstance(v, (int, float)) and math.isfinite(v) else 0.0) for v in row]
        for row in data.get("matrix", [])
    ]
    rows = len(matrix)
    cols = max((len(r) for r in matrix), default=0)
    if not rows or not cols:
        return "<p>(no data)</p>"
    values = [v for row in matrix for v in row]
    low = data.get("vmin", min(values))
    high = data.get("vmax", max(values))
    cell = max(4, min(24, 320 // max(rows, cols)))
    row_labels = [str(label)[-16:] for label in data.get("row_labels") or []]
    col_labels = [str(label)[:10] for label in data.get("col_labels") or []]
    left, top = 8 + 6 * max((len(label) for label in row_labels), default=2), 24
    width = max(left + cols * cell + 10, 8 + 7 * len(title))
    height = (
        top
        + rows * cell
        + (8 + 6 * max((len(label) for label in col_labels), default=0) if col_labels else 10)
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
    ]
    parts.append(f'<text x="{left}" y="14" font-size="12">{html.escape(title)}</text>')
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                f'fill="{_colour(value, low, high)}"><title>{i},{j}: {_fmt(value)}</title></rect>'
            )
    step = max(1, 10 // cell + (1 if cell < 10 else 0))
    for i, label in enumerate(row_labels[:rows]):
        if i % step == 0:
            parts.append(
                f'<text x="{left - 4}" y="{top + i * cell + cell - 2}" font-size="9" text-anchor="end">{html.escape(label)}</text>'
            )
    for j, label in enumerate(col_labels[:cols]):
        if j % step == 0:
            x = left + j * cell + cell / 2
            y = top + rows * cell + 6
            parts.append(
                f'<text x="{x}" y="{y}" font-size="9" transform="rotate(60 {x} {y})">{html.escape(label)}</text>'
            )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{cols * cell}" height="{rows * cell}" fill="none" stroke="#8c959f"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _axes(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    return low, high


def _lines(data: dict[str, Any], title: str) -> str:
    xs = [float(x) for x in data.get("x", [])]
    series: dict[str, list[float]] = data.get("series", {})
    if not xs or not series:
        return "<p>(no data)</p>"
    log_x = bool(data.get("log_x")) and min(xs) > 0
    tx = [math.log(x) for x in xs] if log_x else xs
    x_low, x_high = _axes(tx)
    y_low, y_high = _axes([v for ys in series.values() for v in ys])
    left, top, plot_w, plot_h = 56, 24, 340, 180
    width, height = left + plot_w + 130, top + plot_h + 46

    def px(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
    ]
    parts.append(f'<text x="{left}" y="14" font-size="12">{html.escape(title)}</text>')
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f6f8fa" stroke="#8c959f"/>'
    )
    digits = max(
        0, min(6, 1 - math.floor(math.log10(y_high - y_low)))
    )  # enough decimals to tell ticks apart
    for value in (y_low, (y_low + y_high) / 2, y_high):
        parts.append(
            f'<text x="{left - 4}" y="{py(value) + 3:.1f}" font-size="10" text-anchor="end">{value:.{digits}f}</text>'
        )
    shown = xs if len(xs) <= 12 else xs[:: max(1, len(xs) // 8)]
    for x, t in zip(xs, tx):
        if x in shown:
            parts.append(
                f'<text x="{px(t):.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">{_fmt(x)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 32}" font-size="11" text-anchor="middle">{html.escape(str(data.get("x_label", "")))}</text>'
    )
    parts.append(
        f'<text x="12" y="{top + plot_h / 2}" font-size="11" transform="rotate(-90 12 {top + plot_h / 2})" text-anchor="middle">{html.escape(str(data.get("y_label", "")))}</text>'
    )
    for index, (name, ys) in enumerate(series.items()):
        colour = _PALETTE[index % len(_PALETTE)]
        points = [
            f"{px(t):.1f},{py(y):.1f}"
            for t, y in zip(tx, ys)
            if isinstance(y, (int, float)) and math.isfinite(y)
        ]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>'
        )
        for point in points:
            cx, cy = point.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
        legend_y = top + 12 + index * 16
        parts.append(
            f'<rect x="{left + plot_w + 10}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{left + plot_w + 24}" y="{legend_y + 1}" font-size="11">{html.escape(str(name))[:16]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bars(data: dict[str, Any], title: str) -> str:
    labels = [str(label) for label in data.get("labels", [])]
    values = [
        float(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0.0
        for v in data.get("values", [])
    ]
    if not labels:
        return "<p>(no data)</p>"
    low, high = min(0.0, min(values)), max(0.0, max(values))
    if high - low < 1e-12:
        high = low + 1.0
    bar_h, left, top, plot_w = 14, 190, 24, 260
    zero = left + (0.0 - low) / (high - low) * plot_w
    height = top + len(labels) * (bar_h + 3) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + plot_w + 70}" height="{height}" role="img" aria-label="{html.escape(title)}">'
    ]
    parts.append(f'<text x="4" y="14" font-size="12">{html.escape(title)}</text>')
    for index, (label, value) in enumerate(zip(labels, values)):
        y = top + index * (bar_h + 3)
        end = left + (value - low) / (high - low) * plot_w
        x, width = min(zero, end), abs(end - zero)
        colour = _PALETTE[0] if value >= 0 else _PALETTE[1]  # negative values in red, left of zero
        parts.append(
            f'<text x="{left - 4}" y="{y + bar_h - 3}" font-size="10" text-anchor="end">{html.escape(label[-32:])}</text>'
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{bar_h}" fill="{colour}"><title>{html.escape(label)}: {_fmt(value)}</title></rect>'
        )
        parts.append(
            f'<text x="{max(zero, end) + 4:.1f}" y="{y + bar_h - 3}" font-size="10">{_fmt(value)}</text>'
        )
    if low < 0:
        parts.append(
            f'<line x1="{zero:.1f}" y1="{top - 2}" x2="{zero:.1f}" y2="{height - 8}" stroke="#57606a"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_figure(figure: Figure) -> str:
    """One figure as an inline `<svg>` element inside a `<figure>` with its caption."""
    drawer = {"heatmap": _heatmap, "lines": _lines, "bars": _bars}[figure.kind]
    caption = f"<figcaption>{html.escape(figure.caption)}</figcaption>" if figure.caption else ""
    return f"<figure>{drawer(figure.data, figure.title)}{caption}</figure>"


def _tables(values: dict[str, Any]) -> str:
    """Lists of flat records (per head, per block, ...) as small tables; scalars as one table."""
    parts = []
    scalars = {
        k: v for k, v in values.items() if isinstance(v, (bool, int, float, str)) or v is None
    }
    if scalars:
        cells = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
            for k, v in scalars.items()
        )
        parts.append(f"<table>{cells}</table>")
    for key, value in values.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            columns = [
                c
                for c in value[0]
                if all(not isinstance(row.get(c), (list, dict)) for row in value)
            ]
            if not columns:
                continue
            head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in columns)
                + "</tr>"
                for row in value[:64]
            )
            more = f"<p>({len(value) - 64} more rows in the JSON)</p>" if len(value) > 64 else ""
            parts.append(
                f"<details><summary>{html.escape(key)} ({len(value)})</summary><table><tr>{head}</tr>{body}</table>{more}</details>"
            )
    return "".join(parts)


def _section(section: SectionResult) -> str:
    colour = _STATUS_COLOURS[section.status]
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in section.summary)
    figures = "".join(render_figure(figure) for figure in section.figures)
    return (
        f'<section id="{html.escape(section.name)}"><h2>{html.escape(section.title)}'
        f'<span class="status" style="background:{colour}">{section.status}</span></h2>'
        f'<ul class="summary">{summary}</ul><div class="figures">{figures}</div>'
        f"{_tables(section.values)}</section>"
    )


def render_report(report: AnalysisReport) -> str:
    """The whole report as a standalone HTML document (no scripts, no external resources)."""
    settings = ", ".join(
        f"{k}={_fmt(v)}" for k, v in report.settings.items() if not isinstance(v, (list, dict))
    )
    sections = "".join(_section(section) for section in report.sections)
    title = f"Tier 2 analysis: {report.model_name}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="settings">{html.escape(settings)} '
        f"({report.duration_s:.1f} s)</p>{sections}</body></html>\n"
    )
