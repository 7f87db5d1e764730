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
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from analyzer.errors import AnalyzerError, MissingToolError
from analyzer.render.folding import (
    collapse_module,
    display_module,
    first_instance,
    repeated_containers,
    repeats,
)

__all__ = ["collapse_module", "dot_source", "draw", "render_svg", "repeated_containers"]

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
TRANSPOSE_COLOUR = "#ff7f0e"
OP_DETAIL_LIMIT = 300  # more op nodes than this on the input's path: draw modules
PRIORITY = ["gating", "normalization", "sparsity", "matmul", "transpose", "nonlinearity",
            "relu", "reduction", "elementwise", "structural", "unknown"]  # fmt: skip
REPEAT_STYLE = {"style": "dashed", "color": "#7f7f7f", "constraint": "false",
                "tooltip": "to the next instance of the repeated block"}  # fmt: skip
RESIDUAL_OPS = {"aten.add", "aten.add_", "aten.sub", "aten.sub_"}


@dataclass
class Drawing:
    """A drawn graph: the DOT text and what makes it explorable."""

    dot: str
    level: str  # "ops" or "modules"
    idents: dict[str, str]  # fx node name → the drawn node's id (an op, or its module's unit)
    info: dict[str, dict[str, Any]]  # drawn id → the facts shown when it is clicked
    edges: dict[tuple[str, str], str] = field(default_factory=dict)  # (id, id) → edge id
    classes: list[str] = field(default_factory=list)  # primitive classes drawn
    marks: list[str] = field(default_factory=list)  # site, feeds, layout, witness, repeat, …
    modules: list[dict[str, Any]] = field(default_factory=list)  # module view: one row each


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


def _edge(a: str, b: str, edges: dict[tuple[str, str], str], **style: object) -> str:
    ident = edges.setdefault((a, b), f"e_{a}_{b}")
    return f"  {a} -> {b} {_attributes(id=ident, **style)};"


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


def _shape(data: dict) -> str:
    """``float32[2, 16, 64]`` from the annotated ``dtype`` and ``shape``."""
    return f"{data['dtype']}[{data['shape'].replace('×', ', ')}]" if data["dtype"] else ""


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


def _all_prefixes(modules: Iterable[str]) -> set[str]:
    prefixes = {""}
    for module in modules:
        parts = module.split(".") if module else []
        prefixes.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return prefixes


def _parent(module: str) -> str:
    return module.rpartition(".")[0]


def _classes(nodes: list[dict]) -> list[str]:
    present = {d["primitive"] for d in nodes} - {"input", "output", "parameter"}
    return [c for c in CLASS_COLOURS if c in present]


def _marks(nodes: list[dict], **flags: bool) -> list[str]:
    marks = []
    if any(d["primitive"] in ("input", "output") for d in nodes):
        marks.append("input")
    if any(d["site"] for d in nodes):
        marks.append("site")
    if any(d["transpose"] == "feeds" for d in nodes):
        marks.append("feeds")
    if any(d["transpose"] == "layout" for d in nodes):
        marks.append("layout")
    return marks + [name for name, present in flags.items() if present]


# --- module view -------------------------------------------------------------------


def _cut(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth]) if module else ""


def _child_instance(parent: str, module: str) -> str:
    """The child of ``parent`` on the way to ``module``, a list index kept with its list:
    under ``""``, ``layers.7.mlp`` is in ``layers.7``."""
    parts = module.split(".")
    start = len(parent.split(".")) if parent else 0
    end = start + 1
    if end < len(parts) and parts[end].isdigit():
        end += 1
    return ".".join(parts[:end])


def _module_view(graph: nx.DiGraph, depth: int, parameters: dict[str, int]) -> Drawing:
    names = drawn_nodes(graph)
    containers = repeated_containers(graph.nodes[n]["module"] for n in names)
    instance = {n: _cut(graph.nodes[n]["module"], depth) for n in names}
    base = {n: collapse_module(instance[n], containers) for n in names}
    bases = set(base.values())
    parents = {
        b for b in bases if any(o != b and (b == "" or o.startswith(b + ".")) for o in bases)
    }

    # A parent module's own ops are split at the calls of its children: the ops after
    # ``self_attn`` (a residual add) form one unit, those after ``mlp`` another.
    unit: dict[str, str] = {}
    anchor: dict[str, str] = {}  # the instance path that places a node among repetitions
    last_child: dict[str, str] = {}
    for name in names:
        data = graph.nodes[name]
        if data["primitive"] in ("input", "output"):
            unit[name] = anchor[name] = f"{data['primitive']}:{name}"
            continue
        path = instance[name]
        for parent in _ancestors(path):
            if parent != path and collapse_module(parent, containers) in parents:
                last_child[parent] = _child_instance(parent, path)
        if base[name] in parents:
            previous = last_child.get(path, "")
            unit[name] = f"{base[name]}|{collapse_module(previous, containers)}"
            anchor[name] = previous or path
        else:
            unit[name] = base[name]
            anchor[name] = path

    members: dict[str, list[str]] = defaultdict(list)
    for name in names:
        members[unit[name]].append(name)
    idents = {key: f"u{i}" for i, key in enumerate(members)}
    lines, info = [], {}
    for key, group in members.items():
        line, facts = _unit_node(key, [graph.nodes[m] for m in group], idents[key], containers,
                                 parameters)  # fmt: skip
        lines.append(line)
        info[idents[key]] = facts

    flows: dict[tuple[str, str], dict[str, bool]] = {}
    for source, target, data in graph.edges(data=True):
        if source in unit and target in unit and unit[source] != unit[target]:
            pair = (idents[unit[source]], idents[unit[target]])
            flags = flows.setdefault(pair, {"witness": False, "repeat": False, "forward": False})
            if _next_instance(anchor[source], anchor[target], containers):
                flags["repeat"] = True
            else:
                flags["forward"] = True
                flags["witness"] = flags["witness"] or data["witness"]
    edges: dict[tuple[str, str], str] = {}
    for (a, b), flags in sorted(flows.items()):
        if flags["forward"]:
            style = {"color": SITE_COLOUR, "penwidth": 2} if flags["witness"] else {}
            lines.append(_edge(a, b, edges, **style))
        else:  # only ever to the next instance of a folded block
            lines.append(_edge(a, b, edges, **REPEAT_STYLE))
    nodes = [graph.nodes[n] for n in names]
    return Drawing(
        modules=_module_rows(graph, names, base, containers, parameters),
        dot="\n".join(lines),
        level="modules",
        idents={name: idents[unit[name]] for name in names},
        info=info,
        edges=edges,
        classes=_classes(nodes),
        marks=_marks(
            [n for n in nodes if n["primitive"] in ("input", "output")],
            site=any("sites" in facts for facts in info.values()),
            feeds_unit=any("transposes" in f and "sites" not in f for f in info.values()),
            witness=any(f["witness"] and f["forward"] for f in flows.values()),
            repeat=any(f["repeat"] and not f["forward"] for f in flows.values()),
            residual=any(facts.get("residual") for facts in info.values()),
        ),
    )


def _module_rows(
    graph: nx.DiGraph,
    names: list[str],
    base: dict[str, str],
    containers: dict[str, list[int]],
    parameters: dict[str, int],
) -> list[dict[str, Any]]:
    """One row per drawn module, a repeated block once, its counts per instance."""
    members: dict[str, list[dict]] = defaultdict(list)
    for name in names:
        data = graph.nodes[name]
        if data["primitive"] not in ("input", "output"):
            members[base[name]].append(data)
    rows = []
    for pattern, group in members.items():
        count = repeats(pattern, containers)
        classes = Counter(m["primitive"] for m in group)
        sites: Counter[str] = Counter()
        for m in group:
            if m["site"]:
                sites[m["site"]] += m["sites"]
        rows.append(
            {
                "module": display_module(pattern, containers),
                "parameters": parameters.get(first_instance(pattern, containers)),
                "each": count > 1,
                "ops": ", ".join(
                    f"{c} {_per(n, count)}" for c, n in sorted(classes.items()) if c != "structural"
                )
                or "structural",
                "sites": ", ".join(f"{_per(n, count)} {k}" for k, n in sorted(sites.items())),
            }
        )
    return rows


def _per(total: int, count: int) -> int:
    """Per instance when the total divides evenly among the instances, else the total."""
    return total // count if count > 1 and total % count == 0 else total


def _ancestors(path: str) -> list[str]:
    parts = path.split(".") if path else []
    return [".".join(parts[:i]) for i in range(len(parts) + 1)]


def _next_instance(a: str, b: str, containers: dict[str, list[int]]) -> bool:
    """Whether ``a`` and ``b`` sit in different instances of one repeated block
    (``layers.3…`` and ``layers.4…``): an edge between them goes to the next repetition."""
    if a.startswith(("input:", "output:")) or b.startswith(("input:", "output:")):
        return False
    left, right = a.split(".") if a else [], b.split(".") if b else []
    for i, (x, y) in enumerate(zip(left, right, strict=False)):
        if x != y:
            return x.isdigit() and y.isdigit() and ".".join(left[:i]) in containers
    return False


def _unit_node(
    key: str, members: list[dict], ident: str, containers: dict, parameters: dict[str, int]
) -> tuple[str, dict[str, Any]]:
    if key.startswith(("input:", "output:")):
        kind, _, name = key.partition(":")
        data = members[0]
        shape = _shape(data)
        attributes = _attributes(label=name, shape="ellipse", style="filled",
                                 fillcolor="#ffffff", id=ident, tooltip=kind)  # fmt: skip
        facts = {"title": name, "class": kind, "shape": shape, "dependence": data["dependence"]}
        return f"  {ident} {attributes};", {k: v for k, v in facts.items() if v}
    pattern, split, after = key.partition("|")
    count = repeats(pattern, containers)
    label = display_module(pattern, containers)
    classes = Counter(m["primitive"] for m in members)
    sites: Counter[str] = Counter()
    for m in members:
        if m["site"]:
            sites[m["site"]] += m["sites"]
    feeding = sum(1 for m in members if m["transpose"] == "feeds")
    each = " each" if count > 1 else ""

    def per(n: int) -> int:
        return n // count if count > 1 and n % count == 0 else n

    body = ", ".join(f"{c} {per(n)}" for c, n in sorted(classes.items()) if c != "structural")
    site_text = ", ".join(
        f"{per(n)} {k} site{'s' if per(n) > 1 else ''}" for k, n in sorted(sites.items())
    )
    facts: dict[str, Any] = {"title": label, "module": pattern or "(root)",
                             "ops": body or "structural", "instances": count}  # fmt: skip
    if site_text:
        facts["sites"] = site_text + each
    if feeding:
        facts["transposes"] = f"{per(feeding)} feeding a contraction{each}"
    held = parameters.get(first_instance(pattern, containers))
    if held is not None and not split:
        facts["parameters"] = f"{held:,}{each}"
    residual = bool(split) and {m["op"] for m in members} <= RESIDUAL_OPS
    if split:
        where = display_module(after, containers).split(" ×")[0] if after else "the start"
        facts["after"] = where
    if residual:
        attributes: dict[str, object] = {
            "label": "+", "shape": "circle", "style": "filled",
            "fillcolor": CLASS_COLOURS["elementwise"], "width": 0.3, "fixedsize": "true",
            "fontsize": 12, "id": ident, "class": "residual",
            "tooltip": f"{label}: residual addition after {facts['after']}",
        }  # fmt: skip
        facts["title"] = f"{label}: residual addition"
        facts["residual"] = True
        return f"  {ident} {_attributes(**attributes)};", facts
    main = next((c for c in PRIORITY if classes.get(c)), "structural")
    text = label + (f"\n(after {facts['after']})" if split else "")
    text += f"\n{body or 'structural'}{each if body else ''}"
    if site_text:
        text += f"\n{site_text}{each}"
    attributes = {"label": text, "fillcolor": CLASS_COLOURS[main], "id": ident,
                  "tooltip": label, "class": f"class-{main}"}  # fmt: skip
    if sites:
        attributes.update(color=SITE_COLOUR, penwidth=3, **{"class": "site"})
    elif feeding:
        attributes.update(color=TRANSPOSE_COLOUR, penwidth=2, **{"class": "dynamic-transpose"})
    return f"  {ident} {_attributes(**attributes)};", facts


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
