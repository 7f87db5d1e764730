"""The one dialect every pass reads: an aten-level ``torch.fx`` graph plus input kinds.

Every frontend in :mod:`analyzer.frontend.tracing` produces a :class:`TracedModel`; so does
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
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx


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
    mode: str = "eval"  # the module's mode when traced: "train", "eval", or "none"
    # Provenance kept with the graph (and in stored traces): input shapes, parameter
    # counts, the spec and its overrides, seeds, versions. Plain JSON values only.
    metadata: dict[str, Any] = field(default_factory=dict)
    # What running the graph needs (absent for stored traces): the GraphModule, values
    # of parameter/buffer/constant placeholders, and the user inputs in placeholder order.
    graph_module: fx.GraphModule | None = field(default=None, repr=False)
    placeholder_values: dict[str, Any] = field(default_factory=dict, repr=False)
    example_inputs: tuple[Any, ...] = field(default=(), repr=False)
    # What each graph output is: "output" (returned by the forward) or the new value of a
    # tensor the forward wrote into ("buffer:cache", "input:x"). Empty: all "output".
    output_roles: list[str] = field(default_factory=list)

    def returned_outputs(self) -> list[fx.Node]:
        """The output nodes the forward returns (not the values it wrote into buffers)."""
        values = self.output_node.args[0]
        values = list(values) if isinstance(values, (tuple, list)) else [values]
        roles = self.output_roles or ["output"] * len(values)
        return [
            v for v, role in zip(values, roles, strict=False)
            if role == "output" and isinstance(v, fx.Node)
        ]  # fmt: skip

    @property
    def output_node(self) -> fx.Node:
        """The graph's ``output`` node."""
        return next(n for n in reversed(self.graph.nodes) if n.op == "output")

    def op_nodes(self) -> Iterator[fx.Node]:
        """The nodes that compute something (``call_function``/``call_method``/``call_module``)."""
        return (n for n in self.graph.nodes if n.op.startswith("call_"))


class StoredOp:
    """The target of a call node loaded from a stored trace: a name, not code.

    fx wants callable targets; calling this one says why a stored trace cannot run.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.name} comes from a stored trace and cannot be executed")

    def __repr__(self) -> str:
        return self.name


def has_tag(node: fx.Node, tag: torch.Tag) -> bool:
    """Whether ``node`` calls an aten overload that PyTorch tags ``tag``
    (``torch.Tag.nondeterministic_seeded``, ``torch.Tag.dynamic_output_shape``, …).

    >>> graph = fx.Graph()
    >>> x = graph.placeholder("x")
    >>> draw = graph.call_function(torch.ops.aten.bernoulli.p, (x, 0.5))
    >>> has_tag(draw, torch.Tag.nondeterministic_seeded), has_tag(x, torch.Tag.pointwise)
    (True, False)
    """
    target = node.target
    return (
        node.op == "call_function"
        and isinstance(target, torch._ops.OpOverload)
        and tag in target.tags
    )


def op_name(node: fx.Node) -> str:
    """A stable name for what a node does: ``aten.linear``, ``operator.getitem``, …"""
    if node.op in ("placeholder", "output", "get_attr"):
        return node.op
    target = node.target
    if isinstance(target, StoredOp):
        return target.name
    if isinstance(target, str):  # call_method
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
    if isinstance(target, StoredOp) and node.meta.get("overload"):
        return f"{target.name}.{node.meta['overload']}"
    return op_name(node)


def argument(node: fx.Node, position: int, keyword: str | None = None) -> Any:
    """Argument ``position`` of a call node, or its keyword form, else ``None``."""
    if position < len(node.args):
        return node.args[position]
    if keyword is not None:
        return node.kwargs.get(keyword)
    return None


def op_schema(node: fx.Node) -> torch.FunctionSchema | None:
    """The aten schema of a call node's op, also for a stored trace's op names."""
    target = node.target
    if isinstance(target, torch._ops.OpOverload):
        return target._schema
    if isinstance(target, StoredOp):
        namespace, _, name = target.name.partition(".")
        packet = getattr(getattr(torch.ops, namespace, None), name, None)
        overload = getattr(packet, node.meta.get("overload", "default"), None)
        return getattr(overload, "_schema", None)
    return None


def argument_named(node: fx.Node, name: str) -> Any:
    """The argument called ``name`` in the op's schema, given by position or keyword;
    ``None`` when absent (or when the op has no schema and no such keyword)."""
    schema = op_schema(node)
    if schema is not None:
        for position, spec in enumerate(schema.arguments):
            if spec.name == name:
                if not spec.kwarg_only and position < len(node.args):
                    return node.args[position]
                return node.kwargs.get(name)
    return node.kwargs.get(name)


def node_inputs(value: Any) -> list[fx.Node]:
    """Every fx node referenced in an argument value (lists and dicts flattened)."""
    found: list[fx.Node] = []
    fx.node.map_arg(value, found.append)
    return found


def tensor_operands(node: fx.Node) -> list[fx.Node]:
    """The nodes a call node reads, in argument order, without repeats."""
    return list(dict.fromkeys(node_inputs((node.args, node.kwargs))))


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
    return path.strip(".")


def source_line(node: fx.Node) -> str:
    """Where the user's code created the node: the innermost frame outside torch itself
    (else the innermost frame), as ``file:line: code``; ``""`` when nothing was recorded."""
    if "source_line" in node.meta:  # a stored trace keeps the line itself
        return node.meta["source_line"]
    lines = [line.strip() for line in (node.meta.get("stack_trace") or "").splitlines()]
    frames = []
    for index, line in enumerate(lines):
        match = _FRAME.match(line)
        if match:
            code = lines[index + 1] if index + 1 < len(lines) else ""
            frames.append((match.group(1), match.group(2), code))
    if not frames:
        return ""
    own = [f for f in frames if not _is_library_file(f[0])]
    path, line_number, code = (own or frames)[-1]
    return f"{_relative(path)}:{line_number}: {code}".strip()


def _relative(path: str) -> str:
    """Paths under the working directory are shown relative to it (stable across clones)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


_FRAME = re.compile(r'^File "([^"]+)", line (\d+)')


def _is_library_file(path: str) -> bool:
    return "/torch/" in path or "/transformers/" in path or "/analyzer/frontend/tracing.py" in path


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
