"""Witness paths: for each continuous value, a shortest chain of ops from a continuous
source (a float input, a lookup by token ids) to it. A constant made of values read out
of the graph (:func:`analyzer.passes.escapes.escaped_constants`) continues the path of
what was read.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> traced = trace(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()),
...                (torch.randn(1, 2),))
>>> parents = witness_parents(traced, node_facts(traced))
>>> tanh = list(traced.op_nodes())[-1]
>>> path = witness_path(parents, tanh)
>>> path[0], path[-1] == tanh.name
('input_1', True)
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import TracedModel, tensor_operands
from analyzer.passes.escapes import escaped_constants
from analyzer.passes.facts import Facts


def witness_parents(traced: TracedModel, facts: Facts) -> dict[fx.Node, fx.Node | None]:
    """For each continuous node, its predecessor on a shortest path from a continuous
    source (``None`` at a source: a float input or a lookup by token ids)."""
    distance: dict[fx.Node, int] = {}
    parent: dict[fx.Node, fx.Node | None] = {}
    made_from = escaped_constants(traced)  # a constant made of values read out: its reads
    for node in traced.graph.nodes:
        if not facts[node].is_continuous or node.op == "output":
            continue
        operands = [*tensor_operands(node), *made_from.get(node, ())]
        reached = [n for n in operands if n in distance]
        if not reached:
            distance[node], parent[node] = 0, None
            continue
        best = min(reached, key=distance.__getitem__)
        distance[node], parent[node] = distance[best] + 1, best
    return parent


def witness_path(parents: dict[fx.Node, fx.Node | None], node: fx.Node) -> list[str]:
    """Node names from a continuous source to ``node`` (a shortest such path)."""
    path = []
    current: fx.Node | None = node
    while current is not None:
        path.append(current.name)
        current = parents.get(current)
    return path[::-1]
