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
from collections.abc import Callable
from html import escape
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError
from analyzer.passes.sites import SITE_KINDS
from analyzer.render.assets import SCRIPT, STYLE
from analyzer.render.dot import CLASS_COLOURS, Drawing
from analyzer.render.folding import Group, fold, repeated_containers
from analyzer.render.legend import legend_html
from analyzer.render.wording import (
    PIECEWISE,
    degree_reasons,
    describe_inputs,
    describe_parameters,
    fold_path,
    implied_classes,
    short_source,
    title,
)

if TYPE_CHECKING:
    from analyzer.analysis import Analysis

KIND_COLOURS = {"contraction": CLASS_COLOURS["matmul"], "gating": CLASS_COLOURS["gating"],
                "normalization": CLASS_COLOURS["normalization"]}  # fmt: skip
FACT_LABELS = [  # the node panel's lines, in reading order
    ("op", "op"), ("class", "class"), ("site", "site"), ("transpose", "transpose"),
    ("shape", "value"), ("dependence", "dependence"), ("degree", "degree"),
    ("module", "module"), ("source", "source"), ("instances", "instances"),
    ("parameters", "parameters"), ("ops", "ops"), ("sites", "sites"),
    ("transposes", "transposes"), ("after", "after"),
]  # fmt: skip


def _chip(text: str, colour: str) -> str:
    return f'<span class="chip" style="background:{colour}">{escape(text)}</span>'


def class_chip(cls: str) -> str:
    return _chip(cls, CLASS_COLOURS.get(cls, "#ffffff"))


def _ident(text: str) -> str:
    """An identifier as code that may wrap only after ``.``, ``_`` or ``/``, never
    inside a word."""
    escaped = escape(text)
    for mark in (".", "_", "/"):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return f"<code>{escaped}</code>"


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


def _snippet(code: str) -> str:
    """Source code that wraps at spaces, or after ``.``, ``_``, ``(`` and ``,`` inside a
    long token, never at an arbitrary letter."""
    escaped = escape(code)
    for mark in (".", "_", "(", ","):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return f'<code class="snippet">{escaped}</code>'


def _source_cell(source: str) -> str:
    place, code = short_source(source)
    if not place:
        return "<td></td>"
    text = _ident(place) + (f"<br>{_snippet(code)}" if code else "")
    return f'<td title="{escape(source)}">{text}</td>'


def _paths_html(paths: list[list[str]], operands: list[str]) -> str:
    out = []
    for operand, path in zip(operands, paths, strict=False):
        shown = " → ".join(
            f'<span class="more">{escape(p)}</span>' if p.startswith("… ") else escape(p)
            for p in fold_path(path)
        )
        out.append(f'<span class="path"><b>{escape(operand)}</b>: {shown}</span>')
    return "".join(out)


def _site_table(entries: list[tuple[int, dict[str, Any]]], compact: bool = False) -> str:
    """A table of sites in order. The sites of one fused node share their node, op,
    module and source cells (rowspan), so attention's ``scores`` and ``mix`` read as two
    parts of one op, not as a duplicated row. ``compact`` (the instances of one folded
    block, whose op and source line the summary names) leaves those two columns out."""
    widths = ["14%", "12%", "14%", "18%"] if compact else ["13%", "11%", "12%", "12%", "15%"]
    heads = ["node", "kind", "module"] if compact else ["node", "kind", "op", "module", "source"]
    head = (
        "<colgroup>" + "".join(f'<col style="width:{w}">' for w in widths[: len(heads)])
        + "<col></colgroup><tr>" + "".join(f"<th>{h}</th>" for h in heads)
        + "<th>operands: witness paths from an input</th></tr>"
    )  # fmt: skip
    rows, i = [], 0
    while i < len(entries):
        j = i + 1
        while j < len(entries) and entries[j][1]["node"] == entries[i][1]["node"]:
            j += 1
        span = f' rowspan="{j - i}"' if j - i > 1 else ""
        for k in range(i, j):
            index, site = entries[k]
            kind = site["kind"] + (f" · {site['part']}" if site.get("part") else "")
            cells = [f"<td>{_chip(kind, KIND_COLOURS.get(site['kind'], '#fff'))}</td>"]
            if k == i:
                cells.insert(0, f'<td class="first"{span}>{_ident(site["node"])}</td>')
                if not compact:
                    cells.append(f"<td{span}>{_ident(site['op'])}</td>")
                cells.append(f"<td{span}>{_ident(site['module'] or '(root)')}</td>")
                if not compact:
                    cells.append(
                        _source_cell(site.get("source", "")).replace("<td", f"<td{span}", 1)
                    )
            cells.append(f"<td>{_paths_html(site['paths'], site['operands'])}</td>")
            rows.append(f'<tr class="site" data-site="{index}">{"".join(cells)}</tr>')
        i = j
    return f"<table>{head}{''.join(rows)}</table>"


def _folded(
    groups: list[Group[Any]],
    table: Callable[[list[Any], bool], str],
    describe: Callable[[Group[Any]], str],
    uniform: Callable[[list[Any]], bool] = lambda items: False,
) -> str:
    """Plain tables for single modules, a ``<details>`` per repeated block (its table
    compact when ``uniform`` says the summary already names what every row repeats)."""
    out: list[str] = []
    plain: list[Any] = []

    def flush() -> None:
        if plain:
            out.append(table(plain, False))
            plain.clear()

    for group in groups:
        if not group.folded:
            plain.extend(group.items)
            continue
        flush()
        out.append(
            f'<details class="fold"><summary><b>{escape(group.label)}</b>: '
            f"{describe(group)} <span class='count'>(show the {len(group.items)} rows)"
            f"</span></summary>{table(group.items, uniform(group.items))}</details>"
        )
    flush()
    return "".join(out)


def _sites_section(
    document: dict[str, Any], containers: dict[str, list[int]], interactive: bool = True
) -> str:
    sites = document["input_products"]
    out = [f"<h2>Input-by-input sites ({len(sites)})</h2>"]
    if not sites:
        return out[0] + "<p>None: every product in this model has a fixed operand.</p>"
    click = (
        "; click a row to light up its node and witness paths in the graph" if interactive else ""
    )
    out.append(
        f'<p class="meta">Products whose operands both depend on the input{click}. Long '
        "witness paths are cut in the middle; the JSON has them whole.</p>"
    )

    def uniform(items: list[tuple[int, dict[str, Any]]]) -> bool:
        return len({(site["op"], site.get("source", "")) for _, site in items}) == 1

    def describe(group: Group[Any]) -> str:
        kinds = Counter(site["kind"] for _, site in group.items)
        parts = list(dict.fromkeys(site["part"] for _, site in group.items if site.get("part")))
        counts = {k: n // group.repeats if n % group.repeats == 0 else n for k, n in kinds.items()}
        text = ", ".join(f"{n} {k} site{'s' if n > 1 else ''}" for k, n in sorted(counts.items()))
        each = " each" if all(n % group.repeats == 0 for n in kinds.values()) else " in all"
        text = escape(text + each + (f" ({', '.join(parts)})" if parts else ""))
        if uniform(group.items):
            site = group.items[0][1]
            place, _ = short_source(site.get("source", ""))
            where = f" at <span title='{escape(site.get('source', ''))}'>{_ident(place)}</span>"
            text += f" · {_ident(site['op'])}" + (where if place else "")
        return text

    groups = fold(list(enumerate(sites)), lambda item: item[1]["module"], containers)
    out.append(_folded(groups, _site_table, describe, uniform))
    return "".join(out)


def _transposes_section(document: dict[str, Any], containers: dict[str, list[int]]) -> str:
    transposes = document["dynamic_transposes"]
    feeding = sum(t["feeds_contraction"] for t in transposes)
    out = [f"<h2>Dynamic transposes ({len(transposes)}, {feeding} feeding a contraction)</h2>"]
    if not transposes:
        return out[0] + "<p>None: no input-dependent value is transposed.</p>"

    def table(items: list[dict[str, Any]], compact: bool) -> str:
        del compact  # four short columns: nothing to leave out
        rows = "".join(
            f"<tr><td>{_ident(t['node'])}"
            + (" <span class='meta'>(implied by the fused op)</span>" if t["implied"] else "")
            + f"</td><td>{_ident(t['op'])}</td><td>{_ident(t['module'] or '(root)')}</td>"
            f"<td>{'yes' if t['feeds_contraction'] else 'no (layout only)'}</td></tr>"
            for t in items
        )
        return (
            '<table><colgroup><col style="width:25%"><col style="width:20%">'
            '<col style="width:25%"><col></colgroup><tr><th>node</th><th>op</th>'
            f"<th>module</th><th>feeds a contraction</th></tr>{rows}</table>"
        )

    def describe(group: Group[Any]) -> str:
        fed = sum(t["feeds_contraction"] for t in group.items)
        total, count = len(group.items), group.repeats
        if total % count == 0 and fed % count == 0:
            return escape(f"{total // count} transposes each, {fed // count} feeding a contraction")
        return escape(f"{total} transposes, {fed} feeding a contraction")

    groups = fold(transposes, lambda t: t["module"], containers)
    out.append(_folded(groups, table, describe))
    return "".join(out)


def _modules_section(drawing: Drawing | None) -> str:
    """One row per drawn module (a repeated block once, its counts per instance)."""
    if drawing is None or not drawing.modules:
        return ""
    rows = []
    for row in drawing.modules:
        each = " each" if row["each"] else ""
        held = "" if row["parameters"] is None else f"{row['parameters']:,}{each}"
        sites = f"{row['sites']}{each}" if row["sites"] else ""
        rows.append(
            f"<tr><td>{_ident(row['module'])}</td><td class='num'>{held}</td>"
            f"<td>{escape(row['ops'])}{each if row['ops'] != 'structural' else ''}</td>"
            f"<td>{escape(sites)}</td></tr>"
        )
    return (
        "<h2>Modules</h2><table><colgroup><col style='width:32%'><col style='width:13%'>"
        "<col style='width:37%'><col></colgroup><tr><th>module</th><th class='num'>parameters"
        "</th><th>ops on the input's path, by class</th><th>sites</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _ops_section(analysis: Analysis, document: dict[str, Any]) -> str:
    implied = implied_classes(analysis)
    items = [
        f"{class_chip(cls)} {count:,}" for cls, count in document["primitives"].items() if count
    ]
    items += [
        f"{class_chip(cls)} inside {', '.join(_ident(op) for op in ops)}"
        for cls, ops in implied.items()
        if not document["primitives"].get(cls)
    ]
    note = (
        '<p class="meta">Fused ops count once, under their own class; the classes they '
        "contain are named here and count in the primitive set.</p>"
        if any(not document["primitives"].get(cls) for cls in implied)
        else ""
    )
    return (
        "<h2>Ops by primitive class</h2>"
        f'<p class="inline-list">{" &nbsp;·&nbsp; ".join(items)}</p>{note}'
    )


def _unknown_and_warnings(document: dict[str, Any]) -> str:
    unknown = document["unknown_ops"]
    out = [
        "<h2>Unknown ops</h2><p>"
        + (", ".join(_ident(u) for u in unknown) if unknown else "none")
        + (" — analysed as worst case (continuous, degree inf)." if unknown else "")
        + "</p>"
    ]
    if document["warnings"]:
        out.append("<h2>Warnings</h2><ul>")
        out += [f'<li class="warn">{escape(w)}</li>' for w in document["warnings"]]
        out.append("</ul>")
    return "".join(out)


def _reproduce(document: dict[str, Any]) -> str:
    metadata = document.get("metadata", {})
    rows = []
    if metadata.get("command"):
        rows.append(("command", f"<code>{escape(metadata['command'])}</code>"))
    if metadata.get("spec"):
        rows.append(("model spec", f"<code>{escape(metadata['spec'])}</code>"))
    for key, value in (metadata.get("config") or {}).items():
        rows.append((f"config {escape(key)}", f"<code>{escape(json.dumps(value))}</code>"))
    if metadata.get("inputs"):
        rows.append(("inputs", escape(describe_inputs(metadata["inputs"]))))
    for key in ("seed", "device", "frontend_requested"):
        if key in metadata:
            rows.append((key.replace("_", " "), escape(str(metadata[key]))))
    rows.append(("mode", escape(document["mode"])))
    versions = metadata.get("versions") or {}
    if versions:
        rows.append(("versions", escape(", ".join(f"{k} {v}" for k, v in versions.items()))))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        f"<h2>Reproduce</h2><table><colgroup><col style='width:16%'><col></colgroup>{body}</table>"
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
