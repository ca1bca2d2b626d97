"""Small HTML pieces for the results' `_repr_html_` (Jupyter): tables, key-value
lists, an inline SVG bar chart. Every text is escaped; nothing is fetched."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

_STYLE = ("<style>.modelkit table{border-collapse:collapse;margin:4px 0 10px}"
          ".modelkit th,.modelkit td{padding:2px 8px;text-align:left;"
          "border-bottom:1px solid #ddd;font-size:12px}"
          ".modelkit td.n{text-align:right;font-variant-numeric:tabular-nums}"
          ".modelkit .error{color:#b00020}.modelkit .warning{color:#9a6700}"
          ".modelkit .ok{color:#116329}.modelkit h4{margin:8px 0 2px}</style>")


def text(value: Any) -> str:
    """A value as escaped text (None as a dash)."""
    return "-" if value is None else escape(str(value))


def number(value: Any, fmt: str = ".4g") -> str:
    """A number formatted for a table cell; None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return text(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return escape(format(value, fmt)) if isinstance(value, float) else str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]],
          numeric: Sequence[int] = (), row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; cells are escaped unless they are `Raw`."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            content = cell.html if isinstance(cell, Raw) else (
                number(cell) if j in numeric else text(cell))
            cells.append(f"<td class=\"n\">{content}</td>" if j in numeric
                         else f"<td>{content}</td>")
        cls = f" class=\"{row_classes[i]}\"" if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Raw:
    """HTML that a table cell shows as is (already escaped)."""

    def __init__(self, html: str) -> None:
        self.html = html


def pairs(items: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{text(v)}</td></tr>" for k, v in items)
    return f"<table><tbody>{rows}</tbody></table>"


def heading(title: str) -> str:
    return f"<h4>{escape(title)}</h4>"


def block(*parts: str) -> str:
    """The whole output: the style, then the parts."""
    return f"<div class=\"modelkit\">{_STYLE}{''.join(parts)}</div>"


def lines(items: Iterable[str], cls: str = "") -> str:
    """A bulleted list of plain lines."""
    attr = f" class=\"{cls}\"" if cls else ""
    body = "".join(f"<li>{escape(x)}</li>" for x in items)
    return f"<ul{attr}>{body}</ul>" if body else ""


def bar_chart(labels: Sequence[str], values: Sequence[float | None], *, bad: Sequence[bool],
              title: str, threshold: float | None = None, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG on a log scale (errors span decades): one bar
    per label, red when `bad`, a dashed line at `threshold`.

    A bar's length is `log(value / low) / log(high / low)` of the plot's width, with
    `low` a tenth of the smallest value (and at most a tenth of `threshold`) and `high`
    the largest value (at least twice `threshold`); a value that is missing, not
    finite or not positive gets no bar, only its text."""
    finite = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    low = min(finite + ([threshold] if threshold else []), default=1.0) / 10
    high = max(finite + ([threshold * 2] if threshold else []), default=1.0)
    span = math.log(high / low) or 1.0
    row, label_w, pad = 18, 260, 4
    bar_w = width - label_w - 70
    height = row * len(labels) + 24

    def length(value: float) -> float:
        return bar_w * math.log(value / low) / span

    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" "
             f"height=\"{height}\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">",
             f"<title>{escape(title)}</title>",
             f"<text x=\"0\" y=\"12\" font-weight=\"bold\">{escape(title)} (log scale)</text>"]
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 20 + i * row
        shown = label if len(label) <= 40 else "…" + label[-39:]
        parts.append(f"<text x=\"0\" y=\"{y + 12}\">{escape(shown)}</text>")
        if value is None or not math.isfinite(value) or value <= 0:
            parts.append(f"<text x=\"{label_w}\" y=\"{y + 12}\" fill=\"#666\">"
                         f"{number(value)}</text>")
            continue
        w = length(value)
        color = "#d1242f" if bad[i] else "#2da44e"
        parts.append(f"<rect x=\"{label_w}\" y=\"{y + pad}\" width=\"{w:.2f}\" "
                     f"height=\"{row - 2 * pad}\" fill=\"{color}\"/>")
        parts.append(f"<text x=\"{label_w + w + 4:.1f}\" y=\"{y + 12}\">"
                     f"{number(value, '.3g')}</text>")
    if threshold:
        x = label_w + length(threshold)
        parts.append(f"<line x1=\"{x:.1f}\" y1=\"16\" x2=\"{x:.1f}\" y2=\"{height}\" "
                     "stroke=\"#555\" stroke-dasharray=\"3,3\"><title>"
                     f"{number(threshold, 'g')}</title></line>")
    parts.append("</svg>")
    return "".join(parts)
