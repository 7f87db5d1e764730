"""What the two graph views share: class colours, the :class:`Drawing` they return,
DOT quoting and attributes, edges, and the classes and marks a legend lists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

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


def _edge(a: str, b: str, edges: dict[tuple[str, str], str], **style: object) -> str:
    ident = edges.setdefault((a, b), f"e_{a}_{b}")
    return f"  {a} -> {b} {_attributes(id=ident, **style)};"


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


def drawn_nodes(graph: nx.DiGraph) -> list[str]:
    """The nodes worth drawing: inputs, output, and ops on the input's path."""
    return [
        name
        for name, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["order"])
        if data["primitive"] in ("input", "output") or data["dependence"] != "static"
    ]


def _shape(data: dict) -> str:
    """``float32[2, 16, 64]`` from the annotated ``dtype`` and ``shape``."""
    return f"{data['dtype']}[{data['shape'].replace('×', ', ')}]" if data["dtype"] else ""
