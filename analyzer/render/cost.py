"""Views of a :class:`~analyzer.symbolic.cost.CostReport`: the text ``analyzer cost``
prints, a Markdown and an HTML section for reports, and an SVG plot of static against
dynamic contractions over one dimension, drawn by hand (no plotting library, no network).

Formulas print on one line with superscript powers (``64·N² + 4416·N``); the table and
the plot evaluate them at sizes along the first dimension, the others held at the sizes
the model was traced with.

>>> n = sympy.Symbol("N")
>>> pretty_expression(64 * n**2 + 4416 * n)
'64·N² + 4416·N'
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import TYPE_CHECKING

import sympy

from analyzer.render.dot import SITE_COLOUR

if TYPE_CHECKING:
    from analyzer.symbolic.cost import CostReport

STATIC_COLOUR = "#1f77b4"
DYNAMIC_COLOUR = SITE_COLOUR  # dynamic contractions are sites: the sites' red
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def pretty_expression(expression: sympy.Expr) -> str:
    """One line, powers as superscripts, products as ``·``."""
    text = sympy.sstr(expression)
    text = re.sub(r"\*\*(-?\d+)", lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    return text.replace("*", "·")


def table_sizes(report: CostReport, count: int = 5) -> list[int]:
    """Sizes of the first dimension to tabulate: powers of two spread over its range
    (1 … 65536 unless ``--dim`` bounded it)."""
    name = report.symbols[0].name
    low, high = report.ranges.get(name, (1, 65536))
    powers = [2**k for k in range(0, 31) if low <= 2**k <= high] or [low, high]
    if len(powers) <= count:
        return powers
    step = (len(powers) - 1) / (count - 1)
    return sorted({powers[round(i * step)] for i in range(count)})


def _held(report: CostReport) -> str:
    first = report.symbols[0].name
    others = [f"{k} = {v}" for k, v in report.example_sizes.items() if k != first]
    return f" ({', '.join(others)} as traced)" if others else ""


def _crossover_lines(report: CostReport) -> list[str]:
    lines = []
    for label, roots in report.crossover.items():
        name = report.dims[label]
        if not roots:
            lines.append(f"  {label}: none (no size of {name} makes them equal)")
            continue
        shown = []
        for root in roots:
            approx = _approximate(root)
            shown.append(pretty_expression(root) + (f" ≈ {approx}" if approx else ""))
        lines.append(f"  {label}: {name} = {', '.join(shown)}")
    return lines


def _approximate(root: sympy.Expr) -> str:
    if root.free_symbols or root.is_Integer:
        return ""
    return f"{float(root):.6g}"


def cost_text(report: CostReport, *, nodes: int = 0) -> str:
    """What ``analyzer cost`` prints: formulas, the split, crossovers, a table."""
    dims = ", ".join(f"{label} = {name}" for label, name in report.dims.items())
    traced = ", ".join(f"{k} = {v}" for k, v in report.example_sizes.items())
    width = 22
    lines = [
        f"{'model':<{width}}{report.model}",
        f"{'dimensions':<{width}}{dims}  (traced at {traced})",
        f"{'units':<{width}}multiply-adds (FLOPs / 2) for contractions; one per element otherwise",
        "",
        f"{'total':<{width}}{pretty_expression(report.total)}",
        f"{'static contraction':<{width}}{pretty_expression(report.static_contraction)}"
        "   (W·x: one operand static)",
        f"{'  leading term':<{width}}"
        f"{pretty_expression(report.leading(report.static_contraction))}",
        f"{'dynamic contraction':<{width}}{pretty_expression(report.dynamic_contraction)}"
        "   (input-by-input: Q·Kᵀ, A·V)",
        f"{'  leading term':<{width}}"
        f"{pretty_expression(report.leading(report.dynamic_contraction))}",
    ]
    if report.crossover:
        lines.append("crossover (dynamic = static)")
        lines += _crossover_lines(report)
    lines.append("by class")
    lines += [f"  {k:<{width - 2}}{pretty_expression(v)}" for k, v in report.by_class.items()]
    lines.append("by site kind")
    lines += [f"  {k:<{width - 2}}{pretty_expression(v)}" for k, v in report.by_site_kind.items()]
    lines += ["", *_table(report)]
    if nodes:
        lines += ["", f"most expensive nodes (at the traced sizes, top {nodes})"]
        ranked = sorted(report.nodes, key=lambda n: -(_at(report, n.macs, {}) or 0))[:nodes]
        for node in ranked:
            lines.append(f"  {node.node:<28} {node.op:<36} {pretty_expression(node.macs)}")
    if report.uncounted:
        lines.append("no formula (not counted): " + ", ".join(report.uncounted))
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _table(report: CostReport) -> list[str]:
    name = report.symbols[0].name
    rows = [f"{name:>10} {'static':>14} {'dynamic':>14} {'total':>14} {'dynamic share':>14}"]
    for size in table_sizes(report):
        static = _at(report, report.static_contraction, {name: size})
        dynamic = _at(report, report.dynamic_contraction, {name: size})
        total = _at(report, report.total, {name: size})
        contraction = (static or 0) + (dynamic or 0)
        share = f"{100 * (dynamic or 0) / contraction:.1f} %" if contraction else "-"
        rows.append(
            f"{size:>10} {_short(static):>14} {_short(dynamic):>14} {_short(total):>14} {share:>14}"
        )
    return [f"multiply-adds at sizes of {name}{_held(report)}", *rows]


def _at(report: CostReport, expression: sympy.Expr, sizes: dict[str, int]) -> int | None:
    """The value at ``sizes``, or ``None`` where a symbol has no size (an unbacked,
    data-dependent one)."""
    try:
        return report.at(expression, sizes)
    except TypeError:
        return None


def _short(value: float | None) -> str:
    if value is None:
        return "?"
    for unit, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:g}"


def cost_svg(report: CostReport, width: int = 640, height: int = 360) -> str:
    """Static and dynamic contractions against the first dimension, log-log, with the
    crossover marked. Self-contained SVG; every label is escaped."""
    name = report.symbols[0].name
    low, high = report.ranges.get(name, (1, 65536))
    low, high = max(1, low), max(high, low + 1)
    samples = [low * (high / low) ** (i / 60) for i in range(61)]
    curves = {
        "static contraction": (STATIC_COLOUR, report.static_contraction),
        "dynamic contraction": (DYNAMIC_COLOUR, report.dynamic_contraction),
    }
    values = {
        label: [_value(report, expression, name, x) for x in samples]
        for label, (_, expression) in curves.items()
    }
    positive = [v for vs in values.values() for v in vs if v > 0]
    left, right, top, bottom = 70, width - 20, 40, height - 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14">multiply-adds against {escape(name)}'
        f"{escape(_held(report))}</text>",
    ]
    if not positive:
        parts.append(f'<text x="{left}" y="{height / 2}">no contractions to plot</text></svg>')
        return "\n".join(parts)
    y_low = 10 ** math.floor(math.log10(min(positive)))
    y_high = 10 ** math.ceil(math.log10(max(positive)))
    y_high = y_high if y_high > y_low else y_low * 10

    def px(x: float) -> float:
        return left + (right - left) * math.log(x / low) / math.log(high / low)

    def py(y: float) -> float:
        return bottom - (bottom - top) * math.log(y / y_low) / math.log(y_high / y_low)

    parts.append(
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'fill="none" stroke="#999"/>'
    )
    for exponent in range(int(math.log10(y_low)), int(math.log10(y_high)) + 1):
        y = py(10**exponent)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">10'
            f'<tspan dy="-5" font-size="9">{exponent}</tspan></text>'
        )
    for tick in _x_ticks(low, high):
        x = px(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{tick}</text>')
    parts.append(
        f'<text x="{(left + right) / 2}" y="{height - 12}" text-anchor="middle">'
        f"{escape(name)}</text>"
    )
    for index, (label, (colour, _)) in enumerate(curves.items()):
        points = [(px(x), py(v)) for x, v in zip(samples, values[label], strict=True) if v > 0]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
            )
        mark = "" if points else " (none)"
        legend_y = top + 16 + 18 * index
        parts.append(
            f'<line x1="{left + 10}" x2="{left + 34}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="2.5"/>'
            f'<text x="{left + 40}" y="{legend_y}">{escape(label + mark)}</text>'
        )
    for roots in report.crossover.values():
        for root in roots:
            if root.free_symbols:
                continue
            at = float(root)
            if low <= at <= high:
                x = px(at)
                parts.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#555" '
                    'stroke-dasharray="4 3"/>'
                    f'<text x="{x + 4:.1f}" y="{bottom - 6}" fill="#555">crossover '
                    f"{escape(name)} ≈ {at:.4g}</text>"
                )
    parts.append("</svg>")
    return "\n".join(parts)


def _value(report: CostReport, expression: sympy.Expr, name: str, x: float) -> float:
    values = {**report.example_sizes, name: x}
    substituted = expression.xreplace(
        {s: sympy.Float(values[s.name]) for s in expression.free_symbols if s.name in values}
    )
    try:
        return float(substituted)
    except TypeError:  # a symbol without a size (an unbacked one): not plotted
        return 0.0


def _x_ticks(low: int, high: int) -> list[int]:
    ticks = [2**k for k in range(0, 40) if low <= 2**k <= high]
    while len(ticks) > 9:
        ticks = ticks[::2]
    return ticks


def cost_markdown(report: CostReport) -> str:
    """The cost section of ``report.md``."""
    lines = [
        "",
        "## Cost",
        "",
        "Multiply-adds (FLOPs / 2) for contractions, one per element otherwise; "
        f"dimensions {', '.join(f'{k} = `{v}`' for k, v in report.dims.items())}.",
        "",
        "| quantity | formula | leading term |",
        "| --- | --- | --- |",
    ]
    for label, expression in (
        ("total", report.total),
        ("static contraction", report.static_contraction),
        ("dynamic contraction", report.dynamic_contraction),
    ):
        lines.append(
            f"| {label} | `{sympy.sstr(expression)}` | `{sympy.sstr(report.leading(expression))}` |"
        )
    for label, roots in report.crossover.items():
        shown = ", ".join(f"`{sympy.sstr(r)}`" for r in roots) or "none"
        lines.append(f"| crossover {label} | {shown} | |")
    lines += ["", "```", *_table(report), "```", "", "![cost](cost.svg)", ""]
    return "\n".join(lines)


def cost_html(report: CostReport) -> str:
    """The cost section of a report's ``index.html``, with the plot inline."""
    rows = [
        ("total", report.total),
        ("static contraction (W·x)", report.static_contraction),
        ("dynamic contraction (input-by-input)", report.dynamic_contraction),
        *((f"class {k}", v) for k, v in report.by_class.items()),
        *((f"site kind {k}", v) for k, v in report.by_site_kind.items()),
    ]
    body = [
        "<h2>Cost</h2>",
        '<p class="meta">Multiply-adds (FLOPs / 2) for contractions, one per element '
        "otherwise; dimensions "
        + ", ".join(f"{escape(k)} = <code>{escape(v)}</code>" for k, v in report.dims.items())
        + ".</p>",
        "<table><tr><th>quantity</th><th>formula</th><th>leading term</th></tr>",
    ]
    for label, expression in rows:
        body.append(
            f"<tr><td>{escape(label)}</td><td><code>{escape(pretty_expression(expression))}"
            f"</code></td><td><code>{escape(pretty_expression(report.leading(expression)))}"
            "</code></td></tr>"
        )
    for label, roots in report.crossover.items():
        shown = ", ".join(pretty_expression(r) for r in roots) or "none"
        body.append(f"<tr><td>crossover {escape(label)}</td><td>{escape(shown)}</td><td></td></tr>")
    body.append("</table>")
    body.append('<div class="cost-plot">' + cost_svg(report) + "</div>")
    return "\n".join(body)
