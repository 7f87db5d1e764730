"""``analyzer report``: a folder with index.html, graph.svg, graph.dot, report.md and
analysis.json for one analysis (and Model Explorer overlays on request).

Everything is rendered in memory first, then the folder is created and each file is
written atomically, so a failure (graphviz missing, say) leaves no half-written report
behind.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.analysis import Analysis
from analyzer.output import write_json_atomic, write_text_atomic
from analyzer.progress import SILENT, Progress
from analyzer.render.annotated import annotated_graph
from analyzer.render.dot import Drawing, draw, render_svg
from analyzer.render.html import html_page
from analyzer.render.legend import svg_with_legend
from analyzer.render.markdown import markdown_report
from analyzer.render.wording import title

if TYPE_CHECKING:
    from analyzer.symbolic.cost import CostReport


READABLE_WIDTH_PT = 1200.0
"""The widest drawing (graphviz points) whose labels stay legible across the graph box of
a 1400-pixel-wide page: the box is about 1000 px wide, and graphviz's 10-point labels
are about 8 px tall at 1.2 points per pixel (assets.LEGIBLE_PX)."""


def readable_drawing(
    analysis: Analysis, level: str = "auto", depth: int = 3
) -> tuple[Drawing, str]:
    """The drawing and its SVG. ``auto`` draws ops (up to the op limit), and draws modules
    instead when the op drawing is too wide to read on a 1400-pixel page
    (:data:`READABLE_WIDTH_PT`) and the module drawing is narrower."""
    counts = analysis.traced.metadata.get("parameters_by_module")
    parameters = dict(counts) if isinstance(counts, dict) else None
    graph = annotated_graph(analysis)
    drawing = draw(graph, level=level, depth=depth, parameters=parameters)
    svg = render_svg(drawing.dot)
    if level == "auto" and drawing.level == "ops" and svg_width(svg) > READABLE_WIDTH_PT:
        modules = draw(graph, level="modules", depth=depth, parameters=parameters)
        modules_svg = render_svg(modules.dot)
        if svg_width(modules_svg) < svg_width(svg):
            return modules, modules_svg
    return drawing, svg


def svg_width(svg: str) -> float:
    """The width of graphviz's SVG in points (its viewBox), 0 when it has none.

    >>> svg_width('<svg width="80pt" height="9pt" viewBox="0.00 0.00 80.00 9.00">')
    80.0
    """
    found = re.search(r'viewBox="\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)', svg)
    return float(found[1]) if found else 0.0


def write_report(
    analysis: Analysis,
    out: str | Path,
    *,
    level: str = "auto",
    depth: int = 3,
    why: str = "",
    model_explorer: bool = False,
    progress: Progress = SILENT,
    cost: CostReport | None = None,
) -> Path:
    """Write the report files of ``analysis`` into the folder ``out`` (created).

    ``model_explorer`` adds ``model-explorer/*.json``: node-data overlays for Google
    Model Explorer (see :mod:`analyzer.render.explorer`). A ``cost`` report adds a cost
    section, ``cost.svg`` and ``cost.json``.
    """
    with progress.task(f"drawing the graph (level {level})"):
        drawing, svg = readable_drawing(analysis, level, depth)
    with progress.task("writing the report"):
        model, overrides = title(analysis.to_json())
        heading = f"{model} ({overrides})" if overrides else model
        heading += f" — {drawing.level} view"
        extra = ""
        if cost is not None:
            from analyzer.render.cost import cost_html

            extra = cost_html(cost)
        files: dict[str, str] = {
            "graph.dot": drawing.dot,
            "graph.svg": svg_with_legend(svg, drawing, heading),
            "index.html": html_page(analysis, svg, drawing, extra=extra),
            "report.md": markdown_report(analysis, why),
        }
        if cost is not None:
            from analyzer.render.cost import cost_markdown, cost_svg

            files["report.md"] += cost_markdown(cost)
            files["cost.svg"] = cost_svg(cost)
        overlays = {}
        if model_explorer:
            from analyzer.render.explorer import overlays as explorer_overlays

            overlays = explorer_overlays(analysis)
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            write_text_atomic(folder / name, text)
        write_json_atomic(folder / "analysis.json", analysis.to_json())
        if cost is not None:
            write_json_atomic(folder / "cost.json", cost.to_json())
        if overlays:
            (folder / "model-explorer").mkdir(exist_ok=True)
            for name, document in overlays.items():
                write_json_atomic(folder / "model-explorer" / f"{name}.json", document)
    return folder
