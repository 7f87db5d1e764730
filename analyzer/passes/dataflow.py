"""Dependence and polynomial degree of every node, in one sweep over the fx graph.

fx node order is topological, so one forward pass that applies each op's
:class:`~analyzer.passes.registry.Rule` (its transfer function in
:mod:`analyzer.passes.transfer`) to its operands' facts is the whole fixpoint of a
functional graph. The result is a ``dict[Node, Fact]``; :func:`input_dependence` and
:func:`polynomial_degree` are views of it.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> traced = trace(torch.nn.Bilinear(3, 3, 2), (torch.randn(1, 3), torch.randn(1, 3)))
>>> polynomial_degree(traced)[traced.output_node]
2
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import InputKind, TracedModel, is_floating, op_name, tensor_operands
from analyzer.frontend.functional import storage_roots, writes_into
from analyzer.passes.escapes import SCALAR_READS, escaped_constants, escaped_literal_reads
from analyzer.passes.facts import (
    DISCRETE_FACT,
    INF,
    STATIC_FACT,
    UNKNOWN_FACT,
    Degree,
    Dependence,
    Fact,
    Facts,
    join_facts,
)
from analyzer.passes.registry import Rule
from analyzer.passes.registry_lookup import entry_for
from analyzer.passes.transfer import RULES


def node_facts(traced: TracedModel) -> Facts:
    """Dependence, degree and piecewise flag of every node of ``traced``.

    Tuple-producing ops (``topk``, ``max.dim``) give each output its own fact, which
    ``getitem`` picks; the tuple node itself carries the join.
    """
    escapes = escaped_literal_reads(traced.graph)
    escapes.update(escaped_constants(traced))
    writers = [n for n in traced.graph.nodes if writes_into(n)]
    if not writers:  # a functional graph: one sweep is the fixpoint
        return _sweep(traced, {}, {}, escapes)
    # In-place writes survived functionalization (a make_fx frontend, an old stored
    # trace): every value sharing storage with a written tensor gets everything written
    # into that storage anywhere, iterated to a fixpoint. Sound, flow-insensitive.
    roots = storage_roots(traced.graph)
    written: dict[fx.Node, Fact] = {}
    for iteration in range(_WIDEN_AFTER + 8):
        facts = _sweep(traced, written, roots, escapes)
        update: dict[fx.Node, Fact] = {}
        for writer in writers:
            update[roots[writer]] = join_facts(
                [update.get(roots[writer], STATIC_FACT), facts[writer]]
            )
        if iteration >= _WIDEN_AFTER:  # a write feeding itself would grow the degree forever
            update = {r: _widened(f) if f != written.get(r) else f for r, f in update.items()}
        if update == written:
            return facts
        written = update
    raise AssertionError("the storage fixpoint did not converge")  # widening guarantees it


_WIDEN_AFTER = 3


def _widened(fact: Fact) -> Fact:
    return Fact(fact.dependence, INF, fact.piecewise)


def _sweep(
    traced: TracedModel,
    written: dict[fx.Node, Fact],
    roots: dict[fx.Node, fx.Node],
    escapes: dict[fx.Node, list[fx.Node]],
) -> Facts:
    facts: Facts = {}
    parts: dict[fx.Node, tuple[Fact, ...]] = {}
    returned = traced.returned_outputs()
    chosen = STATIC_FACT  # what Python read and may have chosen the recorded path by
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            facts[node] = _placeholder_fact(node, traced.input_kinds)
        elif node.op == "get_attr":
            facts[node] = STATIC_FACT
        elif node.op == "output":
            facts[node] = join_facts(facts[n] for n in returned)
            if chosen.dependence is not Dependence.STATIC:
                # which values are returned may itself be Python's choice (a row picked
                # by comparing .item() values): a selection by what was read
                facts[node] = join_facts([facts[node], DISCRETE_FACT])
            continue
        else:
            result = _transfer(node, facts, parts)
            if isinstance(result, tuple):
                parts[node] = result
                facts[node] = join_facts(result)
            else:
                facts[node] = result
        read = join_facts(facts[r] for r in escapes.get(node, ()))
        if read.dependence is not Dependence.STATIC:
            # a literal or a constant made here may be a value read out of the graph:
            # anything of it
            escaped = Fact(read.dependence, INF if read.is_continuous else 0, True)
            facts[node] = join_facts([facts[node], escaped])
        root = roots.get(node)
        if root in written:
            facts[node] = join_facts([facts[node], written[root]])
        if chosen.dependence is not Dependence.STATIC:
            facts[node] = _chosen_by_python(facts[node])
        if is_python_read(node):
            chosen = join_facts([chosen, facts[node]])
    return facts


def is_python_read(node: fx.Node) -> bool:
    """Whether a node reads values out of the graph into Python (``.item()``, numpy) and
    the graph never uses what it read: Python did, perhaps to choose what ran next."""
    return node.op == "call_function" and op_name(node) in SCALAR_READS and not node.users


def _chosen_by_python(fact: Fact) -> Fact:
    """A value computed after Python read values out of the graph: the recording froze
    one path of Python's control flow, which may have chosen it by what was read
    (``max(rows, key=lambda r: float(r.sum()))``), so it is piecewise in the read."""
    if fact.dependence is Dependence.STATIC or fact.piecewise:
        return fact
    return Fact(fact.dependence, fact.degree, True)


def input_dependence(traced: TracedModel) -> dict[fx.Node, Dependence]:
    """``static`` / ``discrete`` / ``continuous`` for every node."""
    return {node: fact.dependence for node, fact in node_facts(traced).items()}


def polynomial_degree(traced: TracedModel) -> dict[fx.Node, Degree]:
    """The degree of every node in the continuous sources (``math.inf`` if none)."""
    return {node: fact.degree for node, fact in node_facts(traced).items()}


def _placeholder_fact(node: fx.Node, kinds: dict[str, InputKind]) -> Fact:
    if kinds.get(node.name, InputKind.INPUT) is not InputKind.INPUT:
        return STATIC_FACT
    return Fact.continuous_source() if is_floating(node) else DISCRETE_FACT


def _transfer(
    node: fx.Node, facts: Facts, parts: dict[fx.Node, tuple[Fact, ...]]
) -> Fact | tuple[Fact, ...]:
    operands = tensor_operands(node)
    if op_name(node) == "operator.getitem":
        source, index = node.args[0], node.args[1]
        if isinstance(source, fx.Node) and source in parts and isinstance(index, int):
            return parts[source][index]
        return facts[source] if isinstance(source, fx.Node) else STATIC_FACT
    entry = entry_for(node)
    worst = max((facts[n].dependence for n in operands), default=Dependence.STATIC)
    if entry is None:
        return STATIC_FACT if worst is Dependence.STATIC else UNKNOWN_FACT
    if worst is not Dependence.CONTINUOUS and entry.rule is not Rule.LOOKUP:
        # A function of static and piecewise-constant values is piecewise constant.
        return STATIC_FACT if worst is Dependence.STATIC else DISCRETE_FACT
    return RULES[entry.rule](node, entry, [facts[n] for n in operands], facts)
