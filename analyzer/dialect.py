"""The one dialect every pass reads: an aten-level ``torch.fx`` graph plus input kinds.

Every frontend in :mod:`analyzer.tracing` produces a :class:`TracedModel`; so does
loading a stored trace. Passes only use the helpers here to read nodes, so they never
care which frontend made the graph.

>>> import torch.fx as fx
>>> g = fx.Graph(); x = g.placeholder("x"); _ = g.output(x)
>>> op_name(x)
'placeholder'
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx

from analyzer.registry import OpEntry, lookup


class InputKind(enum.Enum):
    """What a placeholder of the traced graph stands for."""

    INPUT = "input"  # a user input: continuous if floating point, else discrete
    PARAMETER = "parameter"
    BUFFER = "buffer"
    CONSTANT = "constant"


@dataclass
class TracedModel:
    """An aten-level fx graph with what the passes need to know about its placeholders."""

    graph: fx.Graph
    input_kinds: dict[str, InputKind]
    frontend: str
    model: str
    warnings: list[str] = field(default_factory=list)
    module_prefix: str = ""  # stripped from module paths (a wrapper's attribute name)

    @property
    def output_node(self) -> fx.Node:
        """The graph's ``output`` node."""
        return next(n for n in reversed(self.graph.nodes) if n.op == "output")

    def op_nodes(self) -> Iterator[fx.Node]:
        """The nodes that compute something (``call_function``/``call_method``/``call_module``)."""
        return (n for n in self.graph.nodes if n.op.startswith("call_"))


def op_name(node: fx.Node) -> str:
    """A stable name for what a node does: ``aten.linear``, ``operator.getitem``, …"""
    if node.op in ("placeholder", "output", "get_attr"):
        return node.op
    target = node.target
    if isinstance(target, str):  # already a name: a stored trace or call_method
        return target
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}.{target._opname}"
    if isinstance(target, torch._ops.OpOverloadPacket):
        return f"aten.{target._qualified_op_name.split('::')[-1]}"
    if target is operator.getitem:
        return "operator.getitem"
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or repr(target)
    if module in ("_operator", "operator"):
        module = "operator"
    return f"{module}.{name}" if module else name


def overload_name(node: fx.Node) -> str:
    """The full overload name when there is one (``aten.max.other``), else :func:`op_name`."""
    target = node.target
    if isinstance(target, torch._ops.OpOverload):
        return f"{op_name(node)}.{target._overloadname}"
    if isinstance(target, str) and node.meta.get("overload"):
        return f"{target}.{node.meta['overload']}"
    return op_name(node)


def entry_for(node: fx.Node) -> OpEntry | None:
    """The registry entry of a node: its overload first, then its packet."""
    return lookup(overload_name(node)) or lookup(op_name(node))


def argument(node: fx.Node, position: int, keyword: str | None = None) -> Any:
    """Argument ``position`` of a call node, or its keyword form, else ``None``."""
    if position < len(node.args):
        return node.args[position]
    if keyword is not None:
        return node.kwargs.get(keyword)
    return None


def node_inputs(value: Any) -> list[fx.Node]:
    """Every fx node referenced in an argument value (lists and dicts flattened)."""
    found: list[fx.Node] = []
    fx.node.map_arg(value, found.append)
    return found


def tensor_operands(node: fx.Node) -> list[fx.Node]:
    """The nodes a call node reads, in argument order, without repeats."""
    seen: dict[fx.Node, None] = {}
    for arg in (*node.args, *node.kwargs.values()):
        for ref in node_inputs(arg):
            seen.setdefault(ref, None)
    return list(seen)


def module_path(node: fx.Node, prefix: str = "") -> str:
    """The dotted ``nn.Module`` path a node came from (``""`` for the root)."""
    stored = node.meta.get("module_path")
    if stored is not None:
        return stored
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    path = path if isinstance(path, str) else ""
    if prefix and (path == prefix.rstrip(".") or path.startswith(prefix)):
        path = path[len(prefix) :]
    return _clean_module_path(path)


def _clean_module_path(path: str) -> str:
    # make_fx and export spell list indices as attributes: "layers.0" is already fine,
    # but "L__self___layers_0"-style names come from dynamo and are left as they are.
    return path.strip(".")


def source_line(node: fx.Node) -> str:
    """The last frame of the user's source that created the node, or ``""``."""
    trace = node.meta.get("stack_trace") or ""
    lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("File "):
            code = lines[index + 1] if index + 1 < len(lines) else ""
            return f"{lines[index]}: {code}".strip()
    return ""


def value_meta(node: fx.Node) -> tuple[list[int] | None, str | None]:
    """Shape and dtype of a node's value, when the trace recorded them."""
    if "shape" in node.meta or "dtype" in node.meta:  # a stored trace
        return node.meta.get("shape"), node.meta.get("dtype")
    value = node.meta.get("val", node.meta.get("example_value"))
    if isinstance(value, torch.Tensor):
        shape = [int(s) if isinstance(s, int) else str(s) for s in value.shape]
        return shape, str(value.dtype).removeprefix("torch.")  # type: ignore[return-value]
    if isinstance(value, (int, float, bool, torch.SymInt)):
        return [], type(value).__name__
    return None, None


def is_floating(node: fx.Node) -> bool:
    """Whether a placeholder holds a floating-point (continuous) value."""
    _, dtype = value_meta(node)
    return dtype is not None and dtype.startswith(("float", "bfloat", "complex"))
