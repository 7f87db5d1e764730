"""Stored traces: the op graph as JSON (networkx node-link layout), no pickle anywhere.

``save_trace`` writes schema ``analyzer.trace/1``: every node's op, target, argument
references, shape and dtype, module path and source line, plus the tool, torch and
model versions. ``load_trace`` validates the file and rebuilds a
:class:`~analyzer.frontend.dialect.TracedModel` whose call targets are op *names*
(``"aten.linear"`` with the overload in ``meta``), which every pass reads through
:mod:`analyzer.frontend.dialect`, so a stored trace re-analyses exactly as the live one.

>>> import tempfile, torch
>>> from analyzer.frontend.tracing import trace
>>> path = tempfile.mkdtemp() + "/linear.json"
>>> save_trace(trace(torch.nn.Linear(2, 2), (torch.randn(1, 2),)), path)
>>> load_trace(path).frontend
'trace'
"""

from __future__ import annotations

import json
import math
import operator
from pathlib import Path
from typing import Any

import networkx as nx
import torch
import torch.fx as fx

from analyzer.errors import SpecError
from analyzer.frontend.dialect import (
    InputKind,
    StoredOp,
    TracedModel,
    module_path,
    op_name,
    source_line,
    tensor_operands,
    value_meta,
)
from analyzer.output import write_json_atomic

SCHEMA = "analyzer.trace/1"


def trace_document(traced: TracedModel, model_version: str | None = None) -> dict[str, Any]:
    """The ``analyzer.trace/1`` document of a traced model."""
    import analyzer

    graph = nx.DiGraph()
    for order, node in enumerate(traced.graph.nodes):
        shape, dtype = value_meta(node)
        attributes: dict[str, Any] = {
            "order": order,
            "op": node.op,
            "target": _target_name(node),
            "args": _encode(node.args),
            "kwargs": _encode(node.kwargs),
            "shape": shape,
            "dtype": dtype,
            "module": module_path(node, traced.module_prefix),
            "source": source_line(node),
        }
        overload = getattr(node.target, "_overloadname", None)
        if overload is not None:
            attributes["overload"] = overload
        value = node.meta.get("val")
        if isinstance(value, (tuple, list)):
            attributes["outputs"] = len(value)
        if node.op == "placeholder":
            attributes["input_kind"] = traced.input_kinds.get(node.name, InputKind.INPUT).value
        graph.add_node(node.name, **attributes)
    for node in traced.graph.nodes:
        for position, ref in enumerate(tensor_operands(node)):
            graph.add_edge(ref.name, node.name, position=position)
    document = nx.node_link_data(graph, edges="edges")
    document["graph"] = {
        "schema": SCHEMA,
        "model": traced.model,
        "frontend": traced.frontend,
        "mode": traced.mode,
        "output_roles": list(traced.output_roles),
        "metadata": dict(traced.metadata),
        "warnings": list(traced.warnings),
        "versions": _versions(analyzer.__version__, model_version),
    }
    return document


def save_trace(traced: TracedModel, path: str | Path, model_version: str | None = None) -> None:
    """Write ``traced`` to ``path`` as ``analyzer.trace/1`` JSON, atomically."""
    write_json_atomic(path, trace_document(traced, model_version))


def load_trace(path: str | Path) -> TracedModel:
    """Read and validate a stored trace; :class:`SpecError` names a bad file."""
    source = Path(path)
    if not source.is_file():
        raise SpecError(f"trace file {str(source)!r} does not exist")
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SpecError(f"trace file {str(source)!r} is not valid JSON (truncated?): {error}")
    header = document.get("graph") if isinstance(document, dict) else None
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        found = header.get("schema") if isinstance(header, dict) else None
        if found is None and isinstance(document, dict):  # an analysis JSON, say
            found = document.get("schema")
        raise SpecError(
            f"{str(source)!r} is not an analyzer trace (schema {found!r}, expected {SCHEMA!r}); "
            "make one with: analyzer trace SPEC --out FILE.json"
        )
    try:
        return _rebuild(document)
    except (KeyError, TypeError, ValueError) as error:
        raise SpecError(f"trace file {str(source)!r} is damaged: {type(error).__name__}: {error}")


def _rebuild(document: dict[str, Any]) -> TracedModel:
    nodes = sorted(document["nodes"], key=lambda n: n["order"])
    graph = fx.Graph()
    by_name: dict[str, fx.Node] = {}
    kinds: dict[str, InputKind] = {}

    def decode(value: Any) -> Any:
        return _decode(value, by_name)

    for item in nodes:
        name, op = item["id"], item["op"]
        if op == "placeholder":
            node = graph.placeholder(name)
            kinds[name] = InputKind(item.get("input_kind", "input"))
        elif op == "output":
            node = graph.output(decode(item["args"])[0])
        elif op == "get_attr":
            node = graph.create_node("get_attr", item["target"], name=name)
        else:
            target = _resolve_target(item["target"])
            args, kwargs = tuple(decode(item["args"])), decode(item["kwargs"])
            node = graph.create_node(op, target, args, kwargs, name=name)
        if name in by_name:
            raise ValueError(f"node name {name!r} is not unique")
        # fx adjusts some names (X → x, a second `a` → a_1): keep the stored ones exactly;
        # they are unique, and a stored graph is read, never turned back into code
        node.name = name
        node.meta.update(
            shape=item.get("shape"),
            dtype=item.get("dtype"),
            module_path=item.get("module", ""),
            source_line=item.get("source", ""),
        )
        if "overload" in item:
            node.meta["overload"] = item["overload"]
        if "outputs" in item:
            node.meta["outputs"] = item["outputs"]
        by_name[name] = node
    header = document["graph"]
    return TracedModel(
        graph, kinds, "trace", header["model"], list(header.get("warnings", [])),
        mode=header.get("mode", "eval"), metadata=dict(header.get("metadata", {})),
        output_roles=list(header.get("output_roles", [])),
    )  # fmt: skip


def _target_name(node: fx.Node) -> str:
    if node.op in ("placeholder", "get_attr"):
        return str(node.target)
    return op_name(node) if node.op != "output" else "output"


def _resolve_target(name: str) -> Any:
    # getitem stays the real function: the passes read tuple outputs through it
    return operator.getitem if name == "operator.getitem" else StoredOp(name)


def _encode(value: Any) -> Any:
    if isinstance(value, fx.Node):
        return {"node": value.name}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, slice):
        return {"slice": [_encode(value.start), _encode(value.stop), _encode(value.step)]}
    return {"repr": repr(value)}  # devices, layouts, memory formats: names only


def _decode(value: Any, nodes: dict[str, fx.Node]) -> Any:
    if isinstance(value, list):
        return [_decode(v, nodes) for v in value]
    if isinstance(value, dict):
        if "node" in value:
            return nodes[value["node"]]
        if "dict" in value:
            return {k: _decode(v, nodes) for k, v in value["dict"].items()}
        if "float" in value:
            return float(value["float"])
        if "slice" in value:
            return slice(*(_decode(v, nodes) for v in value["slice"]))
        if "dtype" in value:
            return value["dtype"]
        return value.get("repr")
    return value


def _versions(tool: str, model_version: str | None) -> dict[str, str]:
    import sys

    versions = {"analyzer": tool, "torch": torch.__version__}
    if "transformers" in sys.modules:
        versions["transformers"] = sys.modules["transformers"].__version__
    if model_version:
        versions["model"] = model_version
    return versions
