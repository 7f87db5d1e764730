"""One self-contained HTML page for an analysis, and the same view for Jupyter.

The page reads top-down as a reader asks: the verdict strip, then the graph (pan, zoom,
find, click a node for its facts, beside a legend of only what is drawn), then the
sites, transposes and modules, each folded by repeated block, then how to reproduce the
run. Nothing is fetched: styles and a small script are inline (:mod:`.assets`).

Every string from user code (module and node names, source lines) is escaped with
:func:`html.escape`; the embedded SVG comes from graphviz, which escapes its own text;
the data the script reads is JSON with ``<``, ``>`` and ``&`` escaped.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from html import escape
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError
from analyzer.passes.facts import SITE_KINDS
from analyzer.render.assets import SCRIPT, STYLE
from analyzer.render.dot import Drawing
from analyzer.render.folding import repeated_containers
from analyzer.render.legend import legend_html
from analyzer.render.sections import (
    _modules_section,
    _ops_section,
    _reproduce,
    _sites_section,
    _transposes_section,
    _unknown_and_warnings,
    class_chip,
)
from analyzer.render.wording import (
    PIECEWISE,
    degree_reasons,
    describe_inputs,
    describe_parameters,
    title,
)

if TYPE_CHECKING:
    from analyzer.analysis import Analysis

FACT_LABELS = [  # the node panel's lines, in reading order
    ("op", "op"), ("class", "class"), ("site", "site"), ("transpose", "transpose"),
    ("shape", "value"), ("dependence", "dependence"), ("degree", "degree"),
    ("module", "module"), ("source", "source"), ("instances", "instances"),
    ("parameters", "parameters"), ("ops", "ops"), ("sites", "sites"),
    ("transposes", "transposes"), ("after", "after"),
]  # fmt: skip


def strip_xml_prolog(svg: str) -> str:
    """The ``<svg …>`` element alone, ready to inline in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


def _safe_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- the parts of the page -----------------------------------------------------------


def _header(document: dict[str, Any]) -> str:
    model, overrides = title(document)
    metadata = document.get("metadata", {})
    graph = document["graph"]
    facts = [f"frontend {escape(document['frontend'])}", f"mode {escape(document['mode'])}",
             f"{graph['nodes']:,} nodes", f"{graph['edges']:,} edges"]  # fmt: skip
    if describe_parameters(metadata):
        facts.append(describe_parameters(metadata))
    if metadata.get("inputs"):
        facts.append("inputs " + escape(describe_inputs(metadata["inputs"])))
    extra = f' <span class="overrides">{escape(overrides)}</span>' if overrides else ""
    return f'<h1>{escape(model)}{extra}</h1><div class="meta">{" · ".join(facts)}</div>'


def _verdict(document: dict[str, Any]) -> str:
    circuit = "".join(class_chip(c) for c in document["circuit_class"]) or "(none)"
    kinds = Counter(site["kind"] for site in document["input_products"])
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    feeding = sum(t["feeds_contraction"] for t in document["dynamic_transposes"])
    degree = escape(document["degree"]) + (" (piecewise)" if document["piecewise"] else "")
    note = f'<span class="note">{escape(PIECEWISE)}</span>' if document["piecewise"] else ""
    if degree_reasons(document):
        note += f'<span class="note">{escape(degree_reasons(document))}</span>'
    affine = "yes" if document["piecewise_affine"] else "no"
    return (
        '<div class="verdict">'
        f'<div><div class="meta">primitive set</div>{circuit}</div>'
        f'<div><div class="meta">degree</div><span class="big">{degree}</span>{note}</div>'
        f'<div><div class="meta">piecewise affine</div><span class="big">{affine}</span></div>'
        f'<div><div class="meta">input-by-input sites</div><span class="big">'
        f"{len(document['input_products'])}</span>"
        + (f'<span class="note">{escape(by_kind)}</span>' if by_kind else "")
        + "</div>"
        f'<div><div class="meta">dynamic transposes</div><span class="big">{feeding}</span>'
        + (
            f'<span class="note">feeding a contraction, of {len(document["dynamic_transposes"])}'
            "</span>"
            if document["dynamic_transposes"]
            else ""
        )
        + "</div></div>"
    )


def other_level(level: str, command: str | None) -> str:
    """How to draw the other level: the command that made the report with ``--level``
    set to it, or the ``write_report`` argument when the report was made from Python.

    >>> other_level("ops", "analyzer report zoo:mlp --out r --level=ops")
    'analyzer report zoo:mlp --out r --level modules'
    >>> other_level("modules", None)
    "write_report(..., level='ops')"
    """
    other = "modules" if level == "ops" else "ops"
    try:
        argv = shlex.split(command or "")
    except ValueError:
        argv = []
    if "report" not in argv:
        return f"write_report(..., level={other!r})"
    kept: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--level":
            skip = True
        elif not word.startswith("--level="):
            kept.append(word)
    return shlex.join([*kept, "--level", other])


def _graph_section(
    drawing: Drawing, svg: str, interactive: bool, command: str | None = None
) -> str:
    view = "one node per module" if drawing.level == "modules" else "one node per op"
    other = "one node per op" if drawing.level == "modules" else "one node per module"
    switch = (
        f'<p class="meta other-level">Drawn {view}. For {other}: '
        f"<code>{escape(other_level(drawing.level, command))}</code></p>"
    )
    if not interactive:
        return (
            f"<h2>Graph <span class='meta'>({view})</span></h2>{switch}<div class='stage'>"
            f"<div class='graph-box static'>{strip_xml_prolog(svg)}</div>"
            f"<div class='side'>{legend_html(drawing)}</div></div>"
        )
    toolbar = (
        '<div class="toolbar"><input type="search" placeholder="find a node or module" '
        'aria-label="find a node or module (Enter: next match)"><span class="found-count">'
        "</span>"
        '<button data-act="fit" title="fit the whole graph (0)">fit</button>'
        '<button data-act="in" title="zoom in (+)">+</button>'
        '<button data-act="out" title="zoom out (−)">−</button>'
        '<button data-act="clear" title="clear the highlighted site">clear</button>'
        f'<span class="hint">{view} · drag to pan · ctrl+wheel or +/− to zoom · Enter: next '
        "match · click a node or a site row</span></div>"
    )
    return (
        f'<section class="explore">{toolbar}{switch}<div class="stage">'
        f'<div class="graph-box">{strip_xml_prolog(svg)}</div>'
        f'<div class="side">{legend_html(drawing)}<div class="facts"><span class="meta">Click a '
        "node for its facts; click a site row below to light up its witness paths.</span>"
        "</div></div></div></section>"
    )


def analysis_body(
    analysis: Analysis,
    svg: str | None = None,
    drawing: Drawing | None = None,
    *,
    interactive: bool = True,
    extra: str = "",
) -> str:
    """The HTML of an analysis inside ``<div class="analyzer-report">``: what the page
    shows, and what ``_repr_html_`` shows in Jupyter (``interactive=False``: no script,
    which notebooks may not run; the graph then scrolls in its box). ``extra`` is a
    further section (a report's cost formulas) placed after the graph."""
    document = analysis.to_json()
    containers = repeated_containers(
        [s["module"] for s in document["input_products"]]
        + [t["module"] for t in document["dynamic_transposes"]]
        + [analysis.module_of(n) for n in analysis.classes]
    )
    out = ['<div class="analyzer-report">', _header(document), _verdict(document)]
    if svg and drawing is not None:
        command = document.get("metadata", {}).get("command")
        out.append(_graph_section(drawing, svg, interactive, command))
    if extra:
        out.append(extra)
    out += [
        _sites_section(document, containers, interactive and svg is not None),
        _transposes_section(document, containers),
        _modules_section(drawing),
        _ops_section(analysis, document),
        _unknown_and_warnings(document),
        _reproduce(document),
    ]
    if svg and drawing is not None and interactive:
        out.append(
            '<script type="application/json" class="analyzer-data">'
            + _safe_json(_script_data(analysis, document, drawing))
            + f"</script><script>{SCRIPT}</script>"
        )
    out.append("</div>")
    return "\n".join(out)


def _script_data(analysis: Analysis, document: dict[str, Any], drawing: Drawing) -> dict:
    """What the script needs: the facts of each drawn node, each site's node with the
    drawn nodes and edges of its witness paths (each once: a path through 80 folded
    layers visits the same few units), the labels of facts."""

    def drawn(path: list[str]) -> list[str]:
        ids: list[str] = []
        for name in path:
            ident = drawing.idents.get(name)
            if ident is not None and (not ids or ids[-1] != ident):
                ids.append(ident)
        return ids

    sites = []
    for site in document["input_products"]:
        ids: dict[str, None] = {}
        edges: dict[str, None] = {}
        for path in site["paths"]:
            drawn_path = drawn([*path, site["node"]])
            ids.update(dict.fromkeys(drawn_path))
            for a, b in pairwise(drawn_path):
                if (a, b) in drawing.edges:
                    edges[drawing.edges[(a, b)]] = None
        node = drawing.idents.get(site["node"], "")
        sites.append({"node": node, "ids": list(ids), "edges": list(edges)})
    return {"nodes": drawing.info, "sites": sites, "labels": FACT_LABELS}


def notebook_html(analysis: Analysis) -> str:
    """What Jupyter shows for an :class:`Analysis`: its own styles, the graph when
    graphviz is installed (static: notebooks may not run scripts)."""
    from analyzer.render.annotated import annotated_graph
    from analyzer.render.dot import draw, render_svg

    try:
        drawing = draw(annotated_graph(analysis), parameters=_parameters(analysis))
        svg: str | None = render_svg(drawing.dot)
    except AnalyzerError:  # a notebook view never fails for want of graphviz
        drawing, svg = None, None
    return f"<style>{STYLE}</style>" + analysis_body(analysis, svg, drawing, interactive=False)


def _parameters(analysis: Analysis) -> dict[str, int]:
    counts = analysis.traced.metadata.get("parameters_by_module")
    return dict(counts) if isinstance(counts, dict) else {}


def html_page(
    analysis: Analysis, svg: str | None = None, drawing: Drawing | None = None, extra: str = ""
) -> str:
    """The whole self-contained page (``index.html`` of a report); ``extra`` as in
    :func:`analysis_body`."""
    document: dict[str, Any] = analysis.to_json()
    model, overrides = title(document)
    heading = model + (f" ({overrides})" if overrides else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>analyzer: {escape(heading)}</title><style>{STYLE}</style></head>"
        '<body class="analyzer-page">\n'
        + analysis_body(analysis, svg, drawing, extra=extra)
        + "\n</body></html>\n"
    )


def index_page(rows: list[dict[str, Any]], title: str = "The reference zoo") -> str:
    """An index of several reports: one row per model, its primitive set and site counts."""
    body = [
        "<table><colgroup><col style='width:16%'><col style='width:34%'></colgroup>"
        "<tr><th>model</th><th>primitive set</th><th class='num'>contraction sites</th>"
        "<th class='num'>gating sites</th><th class='num'>normalization sites</th>"
        "<th>degree</th></tr>"
    ]
    for row in rows:
        chips = "".join(class_chip(c) for c in row["circuit_class"])
        counts = "".join(f"<td class='num'>{row['sites'].get(k, 0)}</td>" for k in SITE_KINDS)
        flag = (
            f" <span class='warn' title='{escape(row['differs'])}'>differs from the documented "
            "verdict</span>"
            if row.get("differs")
            else ""
        )
        body.append(
            f'<tr><td><a href="{escape(row["href"])}">{escape(row["name"])}</a>{flag}</td>'
            f"<td>{chips}</td>{counts}<td>{escape(row['degree'])}</td></tr>"
        )
    body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body class="analyzer-page"><div class="analyzer-report"><h1>{escape(title)}</h1>'
        '<p class="meta">Generated by analyzer. Sites are input-by-input products; the '
        "primitive set is the classes of the ops on the input's path.</p>"
        + "\n".join(body)
        + "</div></body></html>\n"
    )
