"""Google Model Explorer overlays: the analysis as node data on the exported program.

Model Explorer (the ``ai-edge-model-explorer`` package) draws an ``ExportedProgram``
with WebGL, which stays fluid for graphs far larger than graphviz can lay out. Its
PyTorch adapter names the graph ``"graph"`` and each node by its fx node name, so the
overlays here are node-data documents of its format (``{graph id: {"results": {node id:
{"value": …, "bgColor": …}}}}``, its ``NodeDataProviderData``) keyed the same way: one
for the primitive class, one for the site kind, one for the dependence, one for the
degree. ``analyzer report --model-explorer`` writes them; ``analyzer explore`` starts
Model Explorer on localhost with them loaded.

>>> import torch
>>> from analyzer.analysis import analyze
>>> layer = overlays(analyze(torch.nn.Linear(2, 2), (torch.randn(1, 2),)))["primitive-class"]
>>> layer["graph"]["results"]["linear"]
{'value': 'matmul', 'bgColor': '#aec7e8'}
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import MissingToolError
from analyzer.output import write_json_atomic
from analyzer.passes.facts import format_degree
from analyzer.render.dot import CLASS_COLOURS

if TYPE_CHECKING:
    from analyzer.analysis import Analysis

GRAPH_ID = "graph"  # the id Model Explorer's PyTorch adapter gives an exported program
INSTALL = "pip install ai-edge-model-explorer  (or: pip install 'analyzer[explorer]')"
KIND_COLOURS = {"contraction": "#1f77b4", "gating": "#d62728", "normalization": "#bcbd22"}
DEPENDENCE_COLOURS = {"static": "#eeeeee", "discrete": "#fdd0a2", "continuous": "#9ecae1"}
DEGREE_COLOURS = {"0": "#f7f7f7", "1": "#c7e9c0", "2": "#fdd49e", "3": "#fc8d59",
                  "inf": "#d7301f"}  # fmt: skip


def overlays(analysis: Analysis, rename: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The four node-data documents, by file stem: ``primitive-class``, ``site-kind``,
    ``dependence``, ``degree``. Every op node carries a class, a dependence and a
    degree; only site nodes carry a site kind. Op nodes are keyed by the names
    torch.export gives them; ``rename`` maps other names (the placeholders, which a
    direct export of the model names without the tracer's wrapper) to the program's."""
    rename = rename or {}
    classes: dict[str, dict[str, Any]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    dependence: dict[str, dict[str, Any]] = {}
    degree: dict[str, dict[str, Any]] = {}
    parts: dict[str, list[str]] = {}
    for site in analysis.sites:
        parts.setdefault(site.node.name, []).append(
            site.kind + (f" ({site.part})" if site.part else "")
        )
    for node in analysis.traced.graph.nodes:
        name = rename.get(node.name, node.name)
        fact = analysis.facts[node]
        cls = analysis.classes.get(node)
        if cls is not None:
            classes[name] = {"value": cls, "bgColor": CLASS_COLOURS.get(cls, "#ffffff")}
        depends = str(fact.dependence)
        dependence[name] = {"value": depends, "bgColor": DEPENDENCE_COLOURS.get(depends, "#fff")}
        text = format_degree(fact.degree)
        colour = DEGREE_COLOURS.get(text, DEGREE_COLOURS["3"])
        degree[name] = {
            "value": text + (" (piecewise)" if fact.piecewise else ""),
            "bgColor": colour,
        }
        if node.name in parts:
            colour = KIND_COLOURS.get(parts[node.name][0].split(" ")[0], "#d62728")
            kinds[name] = {"value": ", ".join(parts[node.name]), "bgColor": colour,
                           "textColor": "#ffffff"}  # fmt: skip
    return {
        "primitive-class": _document("analyzer: primitive class", classes),
        "site-kind": _document("analyzer: input-by-input site", kinds),
        "dependence": _document("analyzer: dependence on the input", dependence),
        "degree": _document("analyzer: polynomial degree", degree),
    }


def _document(name: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {GRAPH_ID: {"name": name, "results": results, "showExpandedSummaryOnGroupNode": True,
                       "showLabelCountColumnsInChildrenStatsTable": True}}  # fmt: skip


def explorer_module() -> Any:
    """The ``model_explorer`` package, or :class:`MissingToolError` saying how to get it."""
    try:
        import model_explorer
    except ImportError:
        raise MissingToolError(
            f"`analyzer explore` needs Google's Model Explorer, which is not installed: {INSTALL}. "
            "Without it, `analyzer report SPEC --out DIR --model-explorer` still writes the "
            "overlays, to load in a Model Explorer elsewhere"
        ) from None
    return model_explorer


def start_explorer(
    analysis: Analysis,
    program: Any,
    *,
    port: int = 8080,
    open_browser: bool = True,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve ``program`` (the ``torch.export.ExportedProgram`` of the analysed model) in
    Model Explorer on localhost with the overlays loaded; returns when the server stops.
    ``announce`` is given the address that opens the model with its overlays (the bare
    server address opens an empty Model Explorer)."""
    model_explorer = explorer_module()
    folder = Path(tempfile.mkdtemp(prefix="analyzer-explore-"))
    config = model_explorer.config()
    config.add_model_from_pytorch(analysis.model, exported_program=program, settings=None)
    ours = [n.name for n in analysis.traced.graph.nodes if n.op == "placeholder"]
    theirs = [n.name for n in program.graph.nodes if n.op == "placeholder"]
    rename = dict(zip(ours, theirs, strict=True)) if len(ours) == len(theirs) else {}
    for stem, document in overlays(analysis, rename).items():
        path = folder / f"{stem}.json"
        write_json_atomic(path, document)
        config.add_node_data_from_path(str(path))
    if announce is not None:
        announce(explorer_url(config, port))
    model_explorer.visualize_from_config(
        config, host="localhost", port=port, no_open_in_browser=not open_browser
    )


def explorer_url(config: Any, port: int) -> str:
    """The address that loads ``config``'s model and node data: Model Explorer reads them
    from the page's ``data`` parameter (what it opens in the browser itself).

    >>> class Config:
    ...     def to_url_param_value(self):
    ...         return "%7B%22models%22%3A%20%5B%5D%7D"
    >>> explorer_url(Config(), 8080)
    'http://localhost:8080/?data=%7B%22models%22%3A%20%5B%5D%7D'
    """
    encode = getattr(config, "to_url_param_value", None)
    return f"http://localhost:{port}/" + (f"?data={encode()}" if callable(encode) else "")
