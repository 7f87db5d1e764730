"""Random fx graphs over registry ops: the family for "no crash, static ⊇ empirical".

Every value in a drawn graph is an ``(n, n)`` tensor, so any op can take any earlier
value: the inputs (one or two), a parameter, and the results of the ops before it.
The graph is a ``torch.fx.GraphModule`` of aten calls that the tracer reads like any
model. Draws shrink towards fewer ops, earlier ops in :data:`OPS` and earlier operands.

>>> from hypothesis import given, settings
>>> @settings(max_examples=3, database=None)
... @given(op_graphs(max_ops=3))
... def runs(drawn):
...     assert drawn.module(*drawn.args).shape == (drawn.size, drawn.size)
>>> runs()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
from hypothesis import strategies as st
from torch import nn

from analyzer.errors import SpecError

aten = torch.ops.aten


def _where_positive(graph: fx.Graph, a: fx.Node, b: fx.Node) -> fx.Node:
    return graph.call_function(
        aten.where.self, (graph.call_function(aten.gt.Scalar, (a, 0.0)), a, b)
    )


def _times_mean(graph: fx.Graph, a: fx.Node, b: fx.Node) -> fx.Node:
    # a value times a statistic of another: a normalisation-like product
    mean = graph.call_function(aten.mean.dim, (b, [-1], True))
    return graph.call_function(aten.mul.Tensor, (a, mean))


def _call(target: Any, *extra: Any) -> Callable[..., fx.Node]:
    def make(graph: fx.Graph, *operands: fx.Node) -> fx.Node:
        return graph.call_function(target, (*operands, *extra))

    return make


# name -> (arity, how to add it to a graph); order matters: draws shrink towards the top
OPS: dict[str, tuple[int, Callable[..., fx.Node]]] = {
    "add": (2, _call(aten.add.Tensor)),
    "mul": (2, _call(aten.mul.Tensor)),
    "relu": (1, _call(aten.relu.default)),
    "mm": (2, _call(aten.mm.default)),
    "t": (1, _call(aten.t.default)),
    "sub": (2, _call(aten.sub.Tensor)),
    "neg": (1, _call(aten.neg.default)),
    "tanh": (1, _call(aten.tanh.default)),
    "sigmoid": (1, _call(aten.sigmoid.default)),
    "sin": (1, _call(aten.sin.default)),
    "abs": (1, _call(aten.abs.default)),
    "maximum": (2, _call(aten.maximum.default)),
    "clamp": (1, _call(aten.clamp.default, -1.0, 1.0)),
    "softmax": (1, _call(aten._softmax.default, -1, False)),
    "where_positive": (2, _where_positive),
    "times_mean": (2, _times_mean),
}


@dataclass(frozen=True)
class OpGraph:
    """A drawn graph: ``module(*args)`` computes it; ``ops`` lists it in words."""

    module: fx.GraphModule
    args: tuple[torch.Tensor, ...]
    ops: tuple[str, ...]

    @property
    def size(self) -> int:
        return self.args[0].shape[0]

    def __repr__(self) -> str:
        return f"OpGraph(inputs={len(self.args)}, size={self.size}, ops={list(self.ops)})"


def op_graphs(
    *, ops: list[str] | None = None, max_ops: int = 6, max_size: int = 3
) -> st.SearchStrategy[OpGraph]:
    """Graphs of 1 to ``max_ops`` ops drawn from ``ops`` (default: all of :data:`OPS`) on
    one or two ``(n, n)`` inputs and a parameter, ``n`` from 1 to ``max_size``."""
    names = list(OPS) if ops is None else ops
    if isinstance(names, str) or not names or any(n not in OPS for n in names):
        raise SpecError(f"op_graphs(ops={ops!r}): give a non-empty list of names from {list(OPS)}")
    if isinstance(max_ops, bool) or not isinstance(max_ops, int) or max_ops < 1:
        raise SpecError(f"op_graphs(max_ops={max_ops!r}): max_ops must be an int, at least 1")
    if isinstance(max_size, bool) or not isinstance(max_size, int) or not 1 <= max_size <= 16:
        raise SpecError(f"op_graphs(max_size={max_size!r}): max_size must be an int from 1 to 16")

    @st.composite
    def draw_one(draw: Any) -> OpGraph:
        size = draw(st.integers(1, max_size))
        inputs = draw(st.integers(1, 2))
        count = draw(st.integers(1, max_ops))
        seed = draw(st.integers(0, 2**31 - 1))
        steps, available = [], inputs + 1
        for _ in range(count):
            name = draw(st.sampled_from(names))
            # operands counted back from the newest value, so shrinking keeps chains
            picks = tuple(draw(st.integers(0, available - 1)) for _ in range(OPS[name][0]))
            steps.append((name, picks))
            available += 1
        return build_op_graph(steps, size=size, inputs=inputs, seed=seed)

    return draw_one()


def build_op_graph(
    steps: list[tuple[str, tuple[int, ...]]], *, size: int, inputs: int, seed: int
) -> OpGraph:
    """The graph of ``steps``: each an op name and its operands, counted back from the
    newest value (0 is the newest) among the inputs, the parameter and earlier results.

    >>> build_op_graph([("mm", (0, 1))], size=2, inputs=1, seed=0).ops
    ('mm',)
    """
    generator = torch.Generator().manual_seed(seed)
    root = nn.Module()
    root.register_parameter("weight", nn.Parameter(torch.randn(size, size, generator=generator)))
    graph = fx.Graph()
    values = [graph.placeholder(f"x{i}") for i in range(inputs)]
    values.append(graph.get_attr("weight"))
    for name, picks in steps:
        values.append(OPS[name][1](graph, *(values[-1 - p] for p in picks)))
    graph.output(values[-1])
    args = tuple(torch.randn(size, size, generator=generator) for _ in range(inputs))
    return OpGraph(fx.GraphModule(root, graph), args, tuple(name for name, _ in steps))
