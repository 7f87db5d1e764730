"""Graphviz DOT of an annotated graph: nodes coloured by class, clusters by module,
sites and witness paths highlighted, dynamic transposes marked, repeated blocks
collapsed. Renderers compute no facts; the output is deterministic.

Two levels of detail: ``ops`` (one node per op on the input's path, nested module
clusters) and ``modules`` (one node per module, cut at ``depth`` path components, with
``layers.0 … layers.79`` folded into one ``×80`` node). ``auto`` picks ops for small
graphs.

>>> quote('say "hi" \\\\ <b>')
'"say \\\\"hi\\\\" \\\\\\\\ <b>"'
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable

import networkx as nx

from analyzer.errors import AnalyzerError, MissingToolError

CLASS_COLOURS = {
    "matmul": "#aec7e8",
    "relu": "#98df8a",
    "nonlinearity": "#c5b0d5",
    "transpose": "#ffbb78",
    "gating": "#ff9896",
    "normalization": "#dbdb8d",
    "sparsity": "#f7b6d2",
    "structural": "#eeeeee",
    "elementwise": "#d9d9d9",
    "reduction": "#9edae5",
    "unknown": "#7f7f7f",
    "input": "#ffffff",
    "output": "#ffffff",
}
SITE_COLOUR = "#d62728"
OP_DETAIL_LIMIT = 300  # more op nodes than this on the input's path: draw modules
PRIORITY = ["gating", "normalization", "sparsity", "matmul", "transpose", "nonlinearity",
            "relu", "reduction", "elementwise", "structural", "unknown"]  # fmt: skip
_INDEX = re.compile(r"^\d+$")


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes, quotes and newlines escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _attributes(**values: object) -> str:
    parts = [f"{key}={quote(str(value))}" for key, value in sorted(values.items())]
    return "[" + ", ".join(parts) + "]"


def drawn_nodes(graph: nx.DiGraph) -> list[str]:
    """The nodes worth drawing: inputs, output, and ops on the input's path."""
    return [
        name
        for name, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["order"])
        if data["primitive"] in ("input", "output") or data["dependence"] != "static"
    ]


def choose_level(graph: nx.DiGraph, level: str = "auto") -> str:
    """``ops`` or ``modules``: ``auto`` draws ops when there are few enough."""
    if level not in ("auto", "ops", "modules"):
        raise ValueError(f"level must be auto, ops or modules, not {level!r}")
    if level != "auto":
        return level
    return "ops" if len(drawn_nodes(graph)) <= OP_DETAIL_LIMIT else "modules"


def repeated_containers(modules: Iterable[str], minimum: int = 3) -> dict[str, list[int]]:
    """Module-list prefixes with at least ``minimum`` numbered children.

    >>> repeated_containers(["layers.0.mlp", "layers.1.mlp", "layers.2", "head"])
    {'layers': [0, 1, 2]}
    """
    children: dict[str, set[int]] = defaultdict(set)
    for module in modules:
        parts = module.split(".") if module else []
        for i, part in enumerate(parts):
            if _INDEX.match(part):
                children[".".join(parts[:i])].add(int(part))
    return {p: sorted(c) for p, c in sorted(children.items()) if len(c) >= minimum}


def collapse_module(module: str, containers: dict[str, list[int]]) -> str:
    """Replace the index after a repeated container with ``*``: ``layers.7.mlp`` →
    ``layers.*.mlp``."""
    parts = module.split(".") if module else []
    for i, part in enumerate(parts):
        if _INDEX.match(part) and ".".join(parts[:i]) in containers:
            parts[i] = "*"
    return ".".join(parts)


def _display_module(module: str, containers: dict[str, list[int]]) -> str:
    """``layers.*.mlp`` → ``layers.{0…79}.mlp ×80``."""
    parts = module.split(".")
    repeats = 1
    for i, part in enumerate(parts):
        prefix = ".".join(parts[:i])
        if part == "*" and prefix in containers:
            indices = containers[prefix]
            parts[i] = f"{{{indices[0]}…{indices[-1]}}}"
            repeats *= len(indices)
    return ".".join(parts) + (f" ×{repeats}" if repeats > 1 else "")


def dot_source(graph: nx.DiGraph, *, level: str = "auto", depth: int = 3) -> str:
    """The DOT text for an annotated graph (see the module doc for ``level``/``depth``)."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    chosen = choose_level(graph, level)
    lines = [
        "digraph analysis {",
        '  graph [rankdir="TB", fontname="Helvetica", fontsize="11", newrank="true", '
        "label=" + quote(f"{graph.graph.get('model', '')}: {chosen} view") + ', labelloc="t"];',
        '  node [shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10"];',
        '  edge [color="#888888", arrowsize="0.6"];',
    ]
    if chosen == "ops":
        lines += _op_view(graph)
    else:
        lines += _module_view(graph, depth)
    lines += _legend()
    lines.append("}")
    return "\n".join(lines) + "\n"


def _op_node(name: str, data: dict, ident: str) -> str:
    primitive = data["primitive"]
    label = f"{name}\n{data['op']}" if data["kind"].startswith("call_") else name
    if data["shape"]:
        label += f"\n{data['shape']}"
    attributes: dict[str, object] = {
        "label": label,
        "fillcolor": CLASS_COLOURS.get(primitive, "#ffffff"),
        "tooltip": f"{name}: {data['op']} [{primitive}] degree {data['degree']}"
        + (f"\n{data['source']}" if data["source"] else ""),
        "class": f"class-{primitive}",
        "id": ident,
    }
    if data["site"]:
        attributes.update(color=SITE_COLOUR, penwidth=3, **{"class": f"site site-{data['site']}"})
        attributes["label"] = f"{label}\n⟨{data['site']} site⟩"
    elif data["transpose"] == "feeds":
        attributes.update(shape="hexagon", color="#ff7f0e", penwidth=2)
        attributes["class"] = "dynamic-transpose"
    elif data["transpose"] == "layout":
        attributes.update(shape="hexagon", style="dashed,filled")
    if primitive in ("input", "output"):
        attributes.update(shape="ellipse", style="filled")
    return f"  {ident} {_attributes(**attributes)};"


def _op_view(graph: nx.DiGraph) -> list[str]:
    names = drawn_nodes(graph)
    idents = {name: f"n{i}" for i, name in enumerate(names)}
    tree: dict[str, list[str]] = defaultdict(list)
    for name in names:
        tree[graph.nodes[name]["module"]].append(name)
    lines: list[str] = []
    modules = sorted(tree)
    clusters = {m: f"cluster_{i}" for i, m in enumerate(sorted(_all_prefixes(modules)))}

    def emit(prefix: str, indent: str) -> None:
        for name in tree.get(prefix, []):
            lines.append(indent + _op_node(name, graph.nodes[name], idents[name]).strip())
        for child in sorted(c for c in clusters if _parent(c) == prefix and c):
            lines.append(f"{indent}subgraph {clusters[child]} {{")
            lines.append(
                f"{indent}  graph {_attributes(label=child, style='rounded', color='#bbbbbb')};"
            )
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    emit("", "  ")
    for source, target, data in sorted(graph.edges(data=True)):
        if source in idents and target in idents:
            style = {"color": SITE_COLOUR, "penwidth": 2} if data["witness"] else {}
            lines.append(f"  {idents[source]} -> {idents[target]} {_attributes(**style)};")
    return lines


def _all_prefixes(modules: Iterable[str]) -> set[str]:
    prefixes = {""}
    for module in modules:
        parts = module.split(".") if module else []
        prefixes.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return prefixes


def _parent(module: str) -> str:
    return module.rpartition(".")[0]


def _module_view(graph: nx.DiGraph, depth: int) -> list[str]:
    names = drawn_nodes(graph)
    containers = repeated_containers(graph.nodes[n]["module"] for n in names)

    def unit_of(name: str) -> str:
        data = graph.nodes[name]
        if data["primitive"] in ("input", "output"):
            return f"{data['primitive']}:{name}"
        module = collapse_module(data["module"], containers)
        parts = module.split(".") if module else []
        return ".".join(parts[:depth]) or "(root)"

    units: dict[str, list[str]] = defaultdict(list)
    for name in names:
        units[unit_of(name)].append(name)
    idents = {unit: f"u{i}" for i, unit in enumerate(units)}
    lines = []
    for unit, members in units.items():
        lines.append(_unit_node(unit, [graph.nodes[m] for m in members], idents[unit], containers))
    edges: dict[tuple[str, str], bool] = {}
    for source, target, data in graph.edges(data=True):
        if source in graph and target in graph and source in names and target in names:
            a, b = unit_of(source), unit_of(target)
            if a != b:
                edges[(a, b)] = edges.get((a, b), False) or data["witness"]
    for (a, b), witness in sorted(edges.items()):
        style = {"color": SITE_COLOUR, "penwidth": 2} if witness else {}
        lines.append(f"  {idents[a]} -> {idents[b]} {_attributes(**style)};")
    return lines


def _unit_node(unit: str, members: list[dict], ident: str, containers: dict) -> str:
    if unit.startswith(("input:", "output:")):
        kind, _, name = unit.partition(":")
        return f"  {ident} {_attributes(label=name, shape='ellipse', style='filled', fillcolor='#ffffff', id=ident, tooltip=kind)};"  # noqa: E501
    classes = Counter(m["primitive"] for m in members)
    sites = Counter(m["site"] for m in members if m["site"])
    feeding = sum(1 for m in members if m["transpose"] == "feeds")
    main = next((c for c in PRIORITY if classes.get(c)), "structural")
    body = ", ".join(f"{c} {n}" for c, n in sorted(classes.items()) if c != "structural")
    label = f"{_display_module(unit, containers)}\n{body or 'structural'}"
    if sites:
        label += "\n" + ", ".join(
            f"{n} {k} site{'s' if n > 1 else ''}" for k, n in sorted(sites.items())
        )
    attributes: dict[str, object] = {
        "label": label,
        "fillcolor": CLASS_COLOURS[main],
        "id": ident,
        "tooltip": label,
        "class": f"class-{main}",
    }
    if sites:
        attributes.update(color=SITE_COLOUR, penwidth=3, **{"class": "site"})
    elif feeding:
        attributes.update(color="#ff7f0e", penwidth=2, **{"class": "dynamic-transpose"})
    return f"  {ident} {_attributes(**attributes)};"


def _legend() -> list[str]:
    lines = [
        "  subgraph cluster_legend {",
        '    graph [label="legend", style="rounded", color="#bbbbbb"];',
    ]
    previous = None
    for i, (cls, colour) in enumerate(CLASS_COLOURS.items()):
        if cls in ("input", "output"):
            continue
        lines.append(f"    legend{i} {_attributes(label=cls, fillcolor=colour, fontsize=9)};")
        if previous:
            lines.append(f'    {previous} -> legend{i} [style="invis"];')
        previous = f"legend{i}"
    plain = {"fillcolor": "#ffffff", "fontsize": 9}
    site = _attributes(label="input-by-input site", color=SITE_COLOUR, penwidth=3, **plain)
    transpose = _attributes(
        label="dynamic transpose", shape="hexagon", color="#ff7f0e", penwidth=2, **plain
    )
    lines.append(f"    legend_site {site};")
    lines.append(f"    legend_transpose {transpose};")
    lines.append(f'    {previous} -> legend_site [style="invis"];')
    lines.append('    legend_site -> legend_transpose [style="invis"];')
    lines.append("  }")
    return lines


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
