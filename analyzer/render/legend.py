"""The legend of a drawn graph: only the classes and marks that occur, what each colour,
shape and edge means. The page shows it beside the graph in HTML; ``graph.svg`` carries it
in a column to the right of the drawing, so the drawing is never stretched by it.
"""

from __future__ import annotations

import re
from html import escape

from analyzer.render.dot import CLASS_COLOURS, SITE_COLOUR, TRANSPOSE_COLOUR, Drawing

CLASS_MEANING = {
    "matmul": "contractions: linear, matmul, conv, attention",
    "relu": "piecewise-linear: relu, max, clamp, max-pooling",
    "nonlinearity": "smooth: gelu, silu, tanh, exp, sqrt",
    "transpose": "transposes of input-dependent values",
    "gating": "product of two input-dependent values",
    "normalization": "softmax, layer and RMS norm",
    "sparsity": "data-dependent selection: top-k, argmax",
    "structural": "data movement: view, reshape, cat",
    "elementwise": "affine: add, scale, dropout",
    "reduction": "sum, mean",
    "unknown": "not in the registry: worst case",
}
_HEXAGON = "1,8 6,2 20,2 25,8 20,14 6,14"
# Each mark: a 26×16 picture (SVG elements) and what it means.
MARKS = {
    "input": ('<ellipse cx="13" cy="8" rx="11" ry="6" fill="#fff" stroke="#333"/>',
              "model input or output"),
    "site": (f'<rect x="2" y="2" width="22" height="12" rx="3" fill="#fff" stroke="{SITE_COLOUR}" '
             'stroke-width="3"/>', "red border: input-by-input site"),
    "feeds": (f'<polygon points="{_HEXAGON}" fill="#ffbb78" stroke="{TRANSPOSE_COLOUR}" '
              'stroke-width="2"/>', "hexagon: dynamic transpose feeding a contraction"),
    "feeds_unit": (f'<rect x="2" y="2" width="22" height="12" rx="3" fill="#fff" '
                   f'stroke="{TRANSPOSE_COLOUR}" stroke-width="2.5"/>',
                   "orange border: a module whose dynamic transposes feed a contraction"),
    "layout": (f'<polygon points="{_HEXAGON}" fill="#eee" stroke="#333" '
               'stroke-dasharray="3 2"/>', "dashed hexagon: layout-only transpose"),
    "residual": ('<circle cx="13" cy="8" r="6.5" fill="#d9d9d9" stroke="#333"/><text x="13" '
                 'y="11.5" font-size="10" text-anchor="middle">+</text>',
                 "residual addition between a block's children"),
    "witness": (f'<line x1="1" y1="8" x2="25" y2="8" stroke="{SITE_COLOUR}" stroke-width="2.5"/>',
                "red edge: on a witness path from an input to a site"),
    "repeat": ('<line x1="1" y1="8" x2="25" y2="8" stroke="#7f7f7f" stroke-dasharray="4 3"/>',
               "dashed edge: into the next instance of a repeated block"),
    "flow": ('<line x1="1" y1="8" x2="25" y2="8" stroke="#888"/>', "grey edge: data flow"),
}  # fmt: skip


def entries(drawing: Drawing) -> list[tuple[str, str, str]]:
    """``(kind, picture or colour, text)`` for each legend line, in order: classes, then
    shapes and edges."""
    lines = [
        ("class", CLASS_COLOURS[c], f"{c}: {CLASS_MEANING.get(c, '')}") for c in drawing.classes
    ]
    lines += [("mark", MARKS[m][0], MARKS[m][1]) for m in MARKS if m in drawing.marks]
    lines.append(("mark", MARKS["flow"][0], MARKS["flow"][1]))
    return lines


def unit_note(drawing: Drawing) -> str:
    if drawing.level == "modules":
        return "Each box is a module; ×N: a block repeated N times, shown once."
    return "Each box is an op on the input's path, grouped by module."


def legend_html(drawing: Drawing) -> str:
    """The legend as an HTML box (``<div class="legend">``)."""
    items = []
    for kind, picture, text in entries(drawing):
        name, _, meaning = text.partition(": ") if kind == "class" else ("", "", text)
        if kind == "class":
            items.append(
                f'<li><span class="swatch" style="background:{picture}"></span>'
                f"<span><b>{escape(name)}</b> — {escape(meaning)}</span></li>"
            )
        else:
            items.append(
                f'<li><svg width="26" height="16" viewBox="0 0 26 16">{picture}</svg>'
                f"<span>{escape(text)}</span></li>"
            )
    return (
        f'<div class="legend"><h3>Legend</h3><ul>{"".join(items)}</ul>'
        f'<div class="meta" style="margin-top:.3rem">{escape(unit_note(drawing))}</div></div>'
    )


_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def svg_with_legend(svg: str, drawing: Drawing, heading: str) -> str:
    """A standalone SVG: ``heading`` above, the drawing, and the legend in a column to
    its right (so the drawing keeps its own height)."""
    start = svg.find("<svg")
    match = _SIZE.search(svg, start)
    if start < 0 or match is None:
        return svg
    width, height = float(match.group(1)), float(match.group(2))
    lines = entries(drawing)
    # Helvetica at 11 pt averages under 6.2 pt a character: room for the longest line.
    longest = max([len(text) for _, _, text in lines] + [len(unit_note(drawing))])
    column, line, top = 40 + 6.2 * longest, 18.0, 30.0
    total_w = max(width + column + 10, 16 + 8.5 * len(heading))
    total_h = top + max(height, 24 + line * (len(lines) + 1))
    inner = svg[start:].replace(
        match.group(0), f'<svg x="0" y="{top}" width="{width}" height="{height}"', 1
    )
    legend = [f'<g transform="translate({width + 10},{top})" font-family="Helvetica,sans-serif" '
              'font-size="11">', '<text x="0" y="12" font-weight="bold">Legend</text>']  # fmt: skip
    for i, (kind, picture, text) in enumerate(lines):
        y = 22 + i * line
        if kind == "class":
            swatch = (
                f'<rect x="0" y="0" width="26" height="13" rx="3" fill="{picture}" stroke="#777"/>'
            )
        else:
            swatch = picture
        legend.append(
            f'<g transform="translate(0,{y})">{swatch}<text x="32" y="11">{escape(text)}</text></g>'
        )
    legend.append(
        f'<text x="0" y="{22 + len(lines) * line + 11}" fill="#555">{escape(unit_note(drawing))}'
        "</text></g>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{total_w}pt" height="{total_h}pt" viewBox="0 0 {total_w} {total_h}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="8" y="20" font-family="Helvetica,sans-serif" font-size="14" '
        f'font-weight="bold">{escape(heading)}</text>' + "".join(legend) + inner + "</svg>\n"
    )
