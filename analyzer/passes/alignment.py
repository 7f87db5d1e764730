"""Pointwise roots and statistics: the two facts that tell a product's kind.

Found in one forward sweep over the continuous nodes:

* the *pointwise root* of a value: the tensor it is an entrywise function of
  (``sigmoid(h)`` and ``h`` share the root ``h``), so ``h * sigmoid(h)`` and ``x * x``
  are pointwise nonlinearities, not sites;
* the *statistic* a value is: the root whose reduction it is (``rsqrt(mean(h²))`` is a
  statistic of ``h``), so ``h * rsqrt(mean(h²))`` is a ``normalization`` site.

One value computed twice (``(a − b) * (a − b)``) is recognised by value numbering and
gets the root of its first computation.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> class Swish(torch.nn.Module):
...     def forward(self, x):
...         return x * torch.sigmoid(x)
>>> traced = trace(Swish(), (torch.randn(3),))
>>> aligned = alignment(traced, node_facts(traced))
>>> len(set(aligned.root.values()))
1
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx

from analyzer.frontend.dialect import TracedModel, op_name, tensor_operands
from analyzer.passes.escapes import escaped_constants, escaped_literal_reads
from analyzer.passes.facts import Facts
from analyzer.passes.registry import IDENTITY_OPS, STATISTIC_OPS, Rule
from analyzer.passes.registry_lookup import entry_for


@dataclass(frozen=True, slots=True)
class Alignment:
    """Pointwise roots and statistics of the continuous nodes (see the module doc)."""

    root: dict[fx.Node, fx.Node]
    statistic_of: dict[fx.Node, fx.Node]
    escaped: dict[fx.Node, fx.Node] = field(default_factory=dict)  # see passes.escapes
    made_of: dict[fx.Node, tuple[fx.Node, ...]] = field(default_factory=dict)  # see below


def alignment(traced: TracedModel, facts: Facts) -> Alignment:
    """Roots and statistics of every continuous node, in one forward sweep."""
    root: dict[fx.Node, fx.Node] = {}
    statistic_of: dict[fx.Node, fx.Node] = {}
    numbering: dict[Any, fx.Node] = {}
    value_of: dict[fx.Node, fx.Node] = {}
    for node in traced.graph.nodes:
        if not facts[node].is_continuous or node.op == "output":
            continue
        root[node] = node
        if not node.op.startswith("call_"):
            continue
        twin = _same_value(node, numbering, value_of)
        if twin is not None:  # `(a − b) * (a − b)` is `d * d`: one value computed twice
            root[node] = root[twin]
            if twin in statistic_of:
                statistic_of[node] = statistic_of[twin]
            continue
        continuous = [n for n in tensor_operands(node) if facts[n].is_continuous]
        roots = {root[n] for n in continuous if n not in statistic_of}
        stats = {statistic_of[n] for n in continuous if n in statistic_of}
        name, entry = op_name(node), entry_for(node)
        if name in STATISTIC_OPS and len(continuous) == 1:
            statistic_of[node] = stats.pop() if stats else root[continuous[0]]
        elif not roots and len(stats) == 1 and entry is not None:
            if entry.pointwise or entry.rule is Rule.STRUCTURAL:
                statistic_of[node] = stats.pop()  # rsqrt(var + eps), a broadcast mean
        elif len(roots) == 1 and not stats:
            if (entry is not None and entry.pointwise) or name in IDENTITY_OPS:
                root[node] = roots.pop()
    return Alignment(
        root, statistic_of, _escaped_reads(traced, facts), _escaped_constants(traced, facts)
    )


def _escaped_reads(traced: TracedModel, facts: Facts) -> dict[fx.Node, fx.Node]:
    """For each op given a number after values left the graph, the latest continuous
    read before it (else the latest read): the value the number may be."""
    chosen = {}
    for node, reads in escaped_literal_reads(traced.graph).items():
        continuous = [r for r in reads if facts[r].is_continuous]
        chosen[node] = (continuous or reads)[-1]
    return chosen


ESCAPED_READS_NAMED = 4
"""How many of the reads before an escaped constant its site names (the latest ones)."""


def _escaped_constants(traced: TracedModel, facts: Facts) -> dict[fx.Node, tuple[fx.Node, ...]]:
    """Each constant the forward made after continuous values were read out of the graph
    (``from_numpy(x.numpy() @ y.numpy())``), with the latest continuous reads before it:
    what it may be any function of, products of two of them included."""
    made_of = {}
    for constant, reads in escaped_constants(traced).items():
        varying = [r for r in reads if facts[r].is_continuous]
        if varying:
            made_of[constant] = tuple(varying[-ESCAPED_READS_NAMED:])
    return made_of


def _same_value(
    node: fx.Node, numbering: dict[Any, fx.Node], value_of: dict[fx.Node, fx.Node]
) -> fx.Node | None:
    """An earlier node that computes the same deterministic op of the same values (value
    numbering: operands are read as the first node that computed them)."""
    if node.op != "call_function" or _not_a_function_of_its_arguments(node.target):
        return None
    kwargs = _frozen(node.kwargs, value_of) if node.kwargs else ()
    try:
        twin = numbering.setdefault((node.target, _frozen(node.args, value_of), kwargs), node)
    except TypeError:  # an unhashable constant among the arguments
        return None
    value_of[node] = twin
    return None if twin is node else twin


@functools.cache
def _not_a_function_of_its_arguments(target: Any) -> bool:
    """Ops that draw random numbers or write into their arguments."""
    if not isinstance(target, torch._ops.OpOverload):
        return False
    return torch.Tag.nondeterministic_seeded in target.tags or target._schema.is_mutable


def _frozen(value: Any, value_of: dict[fx.Node, fx.Node]) -> Any:
    """A hashable form of an argument, each node replaced by the first node of its value."""
    if isinstance(value, fx.Node):
        return value_of.get(value, value)
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v, value_of) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v, value_of)) for k, v in value.items()))
    return value
