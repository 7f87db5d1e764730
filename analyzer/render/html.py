"""One self-contained HTML page for an analysis: no network, no script.

Every string that comes from user code (module and node names, source lines) is
escaped with :func:`html.escape`; the embedded SVG comes from graphviz, which escapes
its own text.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError
from analyzer.passes.sites import SITE_KINDS
from analyzer.render.dot import CLASS_COLOURS, SITE_COLOUR

if TYPE_CHECKING:
    from analyzer.analysis import Analysis

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 1400px; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
.meta { color: #666; font-size: .9rem; }
.verdict { display: flex; gap: 1.5rem; flex-wrap: wrap; padding: .8rem 1rem;
  border: 1px solid #ddd; border-radius: 8px; background: #fafafa; align-items: center; }
.chip { display: inline-block; padding: .15rem .55rem; border-radius: 1rem;
  margin: .1rem; font-size: .85rem; border: 1px solid #999; }
.big { font-size: 1.2rem; font-weight: 600; }
table { border-collapse: collapse; font-size: .85rem; margin-top: .4rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr.site td:first-child { border-left: 4px solid %(site)s; }
code { font-size: .82rem; word-break: break-all; }
.path { display: block; color: #555; font-size: .8rem; margin-bottom: .3rem; min-width: 22rem; }
.graph { border: 1px solid #ddd; border-radius: 8px; overflow: auto; max-height: 90vh; }
.graph svg { max-width: none; height: auto; }
.warn { color: #8a4b00; }
""" % {"site": SITE_COLOUR}  # noqa: UP031


def _chip(cls: str) -> str:
    colour = CLASS_COLOURS.get(cls, "#ffffff")
    return f'<span class="chip" style="background:{colour}">{escape(cls)}</span>'


def strip_xml_prolog(svg: str) -> str:
    """The ``<svg …>`` element alone, ready to inline in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


def analysis_body(analysis: Analysis, svg: str | None = None, extra: str = "") -> str:
    """The HTML fragment of an analysis (what ``_repr_html_`` shows in Jupyter);
    ``extra`` is a further section (a report's cost) placed before the graph."""
    document = analysis.to_json()
    out: list[str] = []
    circuit = "".join(_chip(c) for c in document["circuit_class"]) or "(none)"
    affine = "yes" if document["piecewise_affine"] else "no"
    out.append(
        '<div class="verdict">'
        f'<div><div class="meta">primitive set</div>{circuit}</div>'
        f'<div><div class="meta">degree</div><span class="big">{escape(document["degree"])}</span>'
        + (" (piecewise)" if document["piecewise"] else "")
        + '</div><div><div class="meta">piecewise affine</div>'
        f'<span class="big">{affine}</span></div>'
        f'<div><div class="meta">input-by-input sites</div>'
        f'<span class="big">{len(document["input_products"])}</span></div>'
        f'<div><div class="meta">dynamic transposes feeding a contraction</div><span class="big">'
        f"{sum(t['feeds_contraction'] for t in document['dynamic_transposes'])}</span></div>"
        "</div>"
    )
    out.append("<h2>Ops by primitive class</h2><table><tr><th>class</th><th>ops</th></tr>")
    for cls, count in document["primitives"].items():
        if count:
            out.append(f"<tr><td>{_chip(cls)}</td><td>{count}</td></tr>")
    out.append("</table>")
    out.append(f"<h2>Input-by-input sites ({len(document['input_products'])})</h2>")
    if document["input_products"]:
        out.append(
            "<table><tr><th>node</th><th>op</th><th>kind</th><th>module</th><th>source</th>"
            "<th>witness paths</th></tr>"
        )
        for site in document["input_products"]:
            paths = "".join(
                '<span class="path">' + escape(" → ".join(p)) + "</span>" for p in site["paths"]
            )
            out.append(
                f'<tr class="site"><td><code>{escape(site["node"])}</code></td>'
                f"<td><code>{escape(site['op'])}</code></td><td>{_chip(_kind_class(site['kind']))}"
                f"{escape(site['kind'])}</td><td><code>{escape(site['module'] or '(root)')}</code>"
                f"</td><td><code>{escape(site.get('source', ''))}</code></td><td>{paths}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>None: every product in this model has a fixed operand.</p>")
    transposes = document["dynamic_transposes"]
    out.append(f"<h2>Dynamic transposes ({len(transposes)})</h2>")
    if transposes:
        out.append(
            "<table><tr><th>node</th><th>op</th><th>module</th><th>feeds a contraction</th></tr>"
        )
        for item in transposes:
            implied = " (implied by the fused op)" if item["implied"] else ""
            out.append(
                f"<tr><td><code>{escape(item['node'])}</code>{implied}</td>"
                f"<td><code>{escape(item['op'])}</code></td>"
                f"<td><code>{escape(item['module'] or '(root)')}</code></td>"
                f"<td>{'yes' if item['feeds_contraction'] else 'no (layout only)'}</td></tr>"
            )
        out.append("</table>")
    out.append("<h2>Unknown ops</h2>")
    unknown = document["unknown_ops"]
    out.append(
        "<p>"
        + (", ".join(f"<code>{escape(u)}</code>" for u in unknown) if unknown else "none")
        + (" — analysed as worst case (continuous, degree inf)." if unknown else "")
        + "</p>"
    )
    if document["warnings"]:
        out.append("<h2>Warnings</h2><ul>")
        out += [f'<li class="warn">{escape(w)}</li>' for w in document["warnings"]]
        out.append("</ul>")
    if extra:
        out.append(extra)
    if svg:
        out.append('<h2>Graph</h2><div class="graph">' + strip_xml_prolog(svg) + "</div>")
    return "\n".join(out)


def notebook_html(analysis: Analysis) -> str:
    """What Jupyter shows for an :class:`Analysis`; the graph is drawn when graphviz is
    installed."""
    from analyzer.render.annotated import annotated_graph
    from analyzer.render.dot import dot_source, render_svg

    try:
        svg = render_svg(dot_source(annotated_graph(analysis)))
    except AnalyzerError:  # a notebook view never fails for want of graphviz
        svg = None
    return f"<h3>{escape(analysis.model)}</h3>" + analysis_body(analysis, svg)


def _kind_class(kind: str) -> str:
    return {"contraction": "matmul"}.get(kind, kind)


def html_page(analysis: Analysis, svg: str | None = None, extra: str = "") -> str:
    """The whole self-contained page (``index.html`` of a report); ``extra`` as in
    :func:`analysis_body`."""
    document: dict[str, Any] = analysis.to_json()
    title = escape(document["model"])
    meta = (
        f"frontend {escape(document['frontend'])} · {document['graph']['nodes']} nodes · "
        f"{document['graph']['edges']} edges"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>analyzer: {title}</title><style>{STYLE}</style></head><body>"
        f'<h1>{title}</h1><div class="meta">{meta}</div>\n'
        + analysis_body(analysis, svg, extra)
        + "\n</body></html>\n"
    )


def index_page(rows: list[dict[str, Any]], title: str = "The reference zoo") -> str:
    """An index of several reports: one row per model, its primitive set and site counts."""
    body = [
        "<table><tr><th>model</th><th>primitive set</th><th>contraction sites</th>"
        "<th>gating sites</th><th>normalization sites</th><th>degree</th></tr>"
    ]
    for row in rows:
        chips = "".join(_chip(c) for c in row["circuit_class"])
        counts = "".join(f"<td>{row['sites'].get(k, 0)}</td>" for k in SITE_KINDS)
        body.append(
            f'<tr><td><a href="{escape(row["href"])}">{escape(row["name"])}</a></td>'
            f"<td>{chips}</td>{counts}<td>{escape(row['degree'])}</td></tr>"
        )
    body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">Generated by analyzer. Sites are '
        "input-by-input products; the primitive set is the model's circuit class.</p>"
        + "\n".join(body)
        + "</body></html>\n"
    )
