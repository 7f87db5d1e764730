"""Graphviz DOT of an annotated graph: nodes coloured by class, sites and witness paths
highlighted, dynamic transposes marked, repeated blocks folded. Renderers compute no
facts; the output is deterministic.

Two levels of detail: ``ops`` (one node per op on the input's path, nested module
clusters) and ``modules`` (one node per module, cut at ``depth`` path components, with
``layers.0 … layers.79`` folded into one ``×80`` node). In the module view a module's own
ops between calls of its children (a residual addition) are drawn as their own small node,
so a residual stream reads as the skip connection it is, and an edge from one instance of
a folded block to the next is drawn dashed ("next instance") instead of as a loop.
``auto`` picks ops for small graphs.

:func:`draw` returns the DOT text with what the HTML page needs to make it explorable:
which drawn node each fx node became, what to show when a node is clicked, the edge ids,
and which classes and marks occur (the legend lists only those).

>>> quote('say "hi" \\\\ <b>')
'"say \\\\"hi\\\\" \\\\\\\\ <b>"'
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from typing import Any

import networkx as nx

from analyzer.errors import AnalyzerError, MissingToolError
from analyzer.render.folding import (
    collapse_module,
    repeated_containers,
)
from analyzer.render.graphstyle import (
    CLASS_COLOURS,
    OP_DETAIL_LIMIT,
    SITE_COLOUR,
    TRANSPOSE_COLOUR,
    Drawing,
    _all_prefixes,
    _attributes,
    _classes,
    _edge,
    _marks,
    _parent,
    _shape,
    drawn_nodes,
    quote,
)
from analyzer.render.modules_view import _module_view

__all__ = [
    "CLASS_COLOURS", "OP_DETAIL_LIMIT", "SITE_COLOUR", "TRANSPOSE_COLOUR", "Drawing",
    "collapse_module", "dot_source", "draw", "quote", "render_svg", "repeated_containers",
]  # fmt: skip


def choose_level(graph: nx.DiGraph, level: str = "auto") -> str:
    """``ops`` or ``modules``: ``auto`` draws ops when there are few enough."""
    if level not in ("auto", "ops", "modules"):
        raise ValueError(f"level must be auto, ops or modules, not {level!r}")
    if level != "auto":
        return level
    return "ops" if len(drawn_nodes(graph)) <= OP_DETAIL_LIMIT else "modules"


def draw(
    graph: nx.DiGraph,
    *,
    level: str = "auto",
    depth: int = 3,
    parameters: dict[str, int] | None = None,
) -> Drawing:
    """Draw an annotated graph (see the module doc for ``level`` and ``depth``);
    ``parameters`` (per module path) go into the module view's node facts."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    chosen = choose_level(graph, level)
    head = [
        "digraph analysis {",
        '  graph [rankdir="TB", fontname="Helvetica", fontsize="11", newrank="true", '
        'bgcolor="white", pad="0.2"];',
        '  node [shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10"];',
        '  edge [color="#888888", arrowsize="0.6"];',
    ]
    if chosen == "ops":
        drawing = _op_view(graph)
    else:
        drawing = _module_view(graph, depth, parameters or {})
    drawing.dot = "\n".join([*head, drawing.dot, "}"]) + "\n"
    return drawing


def dot_source(graph: nx.DiGraph, *, level: str = "auto", depth: int = 3) -> str:
    """The DOT text alone (see :func:`draw`)."""
    return draw(graph, level=level, depth=depth).dot


# --- ops view ----------------------------------------------------------------------


def _op_node(name: str, data: dict, ident: str) -> str:
    primitive = data["primitive"]
    label = f"{name}\n{data['op']}" if data["kind"].startswith("call_") else name
    if data["shape"]:
        label += f"\n{data['shape']}"
    attributes: dict[str, object] = {
        "label": label,
        "fillcolor": CLASS_COLOURS.get(primitive, "#ffffff"),
        "tooltip": f"{name}: {data['op']} [{primitive}]",
        "class": f"class-{primitive}",
        "id": ident,
    }
    if data["site"]:
        attributes.update(color=SITE_COLOUR, penwidth=3, **{"class": f"site site-{data['site']}"})
        count = (
            f"{data['sites']} {data['site']} sites" if data["sites"] > 1 else f"{data['site']} site"
        )
        parts = f": {data['site_parts']}" if data["site_parts"] else ""
        attributes["label"] = f"{label}\n⟨{count}{parts}⟩"
    elif data["transpose"] == "feeds":
        attributes.update(shape="hexagon", color=TRANSPOSE_COLOUR, penwidth=2)
        attributes["class"] = "dynamic-transpose"
    elif data["transpose"] == "layout":
        attributes.update(shape="hexagon", style="dashed,filled")
    if primitive in ("input", "output"):
        attributes.update(shape="ellipse", style="filled")
    return f"{ident} {_attributes(**attributes)};"


def _op_info(name: str, data: dict) -> dict[str, Any]:
    degree = data["degree"] + (" (piecewise)" if data["piecewise"] else "")
    info = {
        "title": name, "op": data["op"], "class": data["primitive"], "shape": _shape(data),
        "dependence": data["dependence"], "degree": degree, "module": data["module"],
        "source": data["source"], "transpose": data["transpose"],
        "site": _site_text(data),
    }  # fmt: skip
    return {key: value for key, value in info.items() if value not in ("", None)}


def _site_text(data: dict) -> str:
    """``contraction`` or, for a fused op holding several, ``2 contraction (scores, mix)``."""
    if data["sites"] > 1:
        return f"{data['sites']} {data['site']} ({data['site_parts']})"
    return data["site"]


def _op_view(graph: nx.DiGraph) -> Drawing:
    names = drawn_nodes(graph)
    idents = {name: f"n{i}" for i, name in enumerate(names)}
    tree: dict[str, list[str]] = defaultdict(list)
    for name in names:
        tree[graph.nodes[name]["module"]].append(name)
    lines: list[str] = []
    clusters = {m: f"cluster_{i}" for i, m in enumerate(sorted(_all_prefixes(tree)))}

    def emit(prefix: str, indent: str) -> None:
        for name in tree.get(prefix, []):
            lines.append(indent + _op_node(name, graph.nodes[name], idents[name]))
        for child in sorted(c for c in clusters if _parent(c) == prefix and c):
            lines.append(f"{indent}subgraph {clusters[child]} {{")
            lines.append(
                f"{indent}  graph {_attributes(label=child, style='rounded', color='#bbbbbb')};"
            )
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    emit("", "  ")
    edges: dict[tuple[str, str], str] = {}
    witness = False
    for source, target, data in sorted(graph.edges(data=True)):
        if source in idents and target in idents:
            style = {"color": SITE_COLOUR, "penwidth": 2} if data["witness"] else {}
            witness = witness or data["witness"]
            lines.append(_edge(idents[source], idents[target], edges, **style))
    nodes = [graph.nodes[n] for n in names]
    return Drawing(
        dot="\n".join(lines),
        level="ops",
        idents=idents,
        info={idents[n]: _op_info(n, graph.nodes[n]) for n in names},
        edges=edges,
        classes=_classes(nodes),
        marks=_marks(nodes, witness=witness),
    )


def render_svg(dot: str, timeout: float = 120) -> str:
    """Run graphviz's ``dot`` on DOT text; :class:`MissingToolError` when it is absent."""
    program = shutil.which("dot")
    if program is None:
        raise MissingToolError(
            "graphviz's `dot` program is not installed, so the graph cannot be drawn: install "
            "the Debian package graphviz (apt-get install graphviz) or your system's graphviz"
        )
    done = subprocess.run(
        [program, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AnalyzerError(f"graphviz dot failed: {done.stderr.strip()[:500]}")
    return done.stdout
