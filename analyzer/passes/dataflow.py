"""Dependence and polynomial degree of every node, in one sweep over the fx graph.

fx node order is topological, so one forward pass that applies each op's
:class:`~analyzer.passes.registry.Rule` to its operands' facts is the whole fixpoint. The
result is a ``dict[Node, Fact]``; :func:`input_dependence` and
:func:`polynomial_degree` are views of it.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> traced = trace(torch.nn.Bilinear(3, 3, 2), (torch.randn(1, 3), torch.randn(1, 3)))
>>> polynomial_degree(traced)[traced.output_node]
2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.fx as fx

from analyzer.frontend.dialect import (
    InputKind,
    TracedModel,
    argument,
    argument_named,
    is_floating,
    node_inputs,
    op_name,
    tensor_operands,
)
from analyzer.passes.facts import (
    DISCRETE_FACT,
    INF,
    STATIC_FACT,
    UNKNOWN_FACT,
    Degree,
    Dependence,
    Fact,
    join_facts,
)
from analyzer.passes.registry import OpEntry, Rule, entry_for

Facts = dict[fx.Node, Fact]


def node_facts(traced: TracedModel) -> Facts:
    """Dependence, degree and piecewise flag of every node of ``traced``.

    Tuple-producing ops (``topk``, ``max.dim``) give each output its own fact, which
    ``getitem`` picks; the tuple node itself carries the join.
    """
    facts: Facts = {}
    parts: dict[fx.Node, tuple[Fact, ...]] = {}
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            facts[node] = _placeholder_fact(node, traced.input_kinds)
        elif node.op == "get_attr":
            facts[node] = STATIC_FACT
        elif node.op == "output":
            facts[node] = join_facts(facts[n] for n in tensor_operands(node))
        else:
            result = _transfer(node, facts, parts)
            if isinstance(result, tuple):
                parts[node] = result
                facts[node] = join_facts(result)
            else:
                facts[node] = result
    return facts


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


def _facts_at(node: fx.Node, positions: tuple[int, ...], facts: Facts) -> list[Fact]:
    """Facts of the nodes at argument ``positions``, repeats kept (``x * x`` is quadratic)."""
    return [facts[n] for n in operand_references(node, positions)]


def operand_references(node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    """The nodes at argument ``positions`` (``-1``: the last), lists flattened, repeats kept."""
    return [ref for position in positions for ref in node_inputs(argument(node, position))]


def multiplied_positions(node: fx.Node, entry: OpEntry) -> tuple[int, ...]:
    """The argument positions an op multiplies: declared, else every argument (``mul``)."""
    return entry.multiplied or tuple(range(len(node.args)))


def multiplied_operands(node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    """The nodes at argument ``positions``, lists flattened, in order, without repeats."""
    return list(dict.fromkeys(operand_references(node, positions)))


def _product_degree(multiplied: list[Fact]) -> Degree:
    return sum((f.degree for f in multiplied if f.is_continuous), 0)


def _join(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return join_facts(operands)


def _product(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    positions = multiplied_positions(node, entry)
    multiplied = _facts_at(node, positions, facts)
    joined = join_facts(operands)
    # A product with a discrete value is a data-dependent mask: a kink, not a degree.
    kink = joined.piecewise or any(f.dependence is Dependence.DISCRETE for f in multiplied)
    multiplied_nodes = _nodes_at(node, positions)
    rest = [facts[n] for n in tensor_operands(node) if n not in multiplied_nodes]
    degree = max(_product_degree(multiplied), max((f.degree for f in rest), default=0))
    return Fact(joined.dependence, degree, kink)


def _divide(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    divisor = _facts_at(node, (entry.divisor,), facts)
    if any(f.is_continuous for f in divisor):
        return Fact(joined.dependence, INF, joined.piecewise)
    return joined


def _contraction(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    multiplied = _facts_at(node, entry.multiplied, facts)
    multiplied_nodes = _nodes_at(node, entry.multiplied)
    bias = [facts[n] for n in tensor_operands(node) if n not in multiplied_nodes]
    degree = max(_product_degree(multiplied), max((f.degree for f in bias), default=0))
    return Fact(joined.dependence, degree, joined.piecewise)


def _attention(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """softmax(q·kᵀ + mask)·v: smooth in q, k and the mask, linear in v."""
    joined = join_facts(operands)
    if any(facts[n].is_continuous for n in attention_inputs(node).weights_from):
        return Fact(joined.dependence, INF, joined.piecewise)
    return joined


@dataclass(frozen=True)
class AttentionInputs:
    """The operands of a fused attention, read by name from its schema."""

    query: fx.Node | None
    key: fx.Node | None
    value: fx.Node | None
    mask: fx.Node | None

    @property
    def weights_from(self) -> list[fx.Node]:
        """What the attention weights softmax(q·kᵀ + mask) are computed from."""
        return [n for n in (self.query, self.key, self.mask) if n is not None]


def attention_inputs(node: fx.Node) -> AttentionInputs:
    """Query, key, value and mask (``attn_mask`` or ``attn_bias``) of a fused attention."""

    def named(name: str) -> fx.Node | None:
        value = argument_named(node, name)
        return value if isinstance(value, fx.Node) else None

    return AttentionInputs(
        named("query"), named("key"), named("value"), named("attn_mask") or named("attn_bias")
    )


def _relu(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    return Fact(joined.dependence, joined.degree, True)


def _smooth(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return Fact(Dependence.CONTINUOUS, INF, join_facts(operands).piecewise)


def _pow(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    base = node.args[0]
    exponent = argument(node, 1, "exponent") if op_name(node) == "aten.pow" else 2
    if not isinstance(base, fx.Node) or not facts[base].is_continuous:
        return Fact(joined.dependence, INF, joined.piecewise)  # k ** x
    natural = isinstance(exponent, int) or (isinstance(exponent, float) and exponent.is_integer())
    if natural and exponent >= 0 and not isinstance(exponent, bool):
        return Fact(joined.dependence, facts[base].degree * int(exponent), joined.piecewise)
    return Fact(joined.dependence, INF, joined.piecewise)


def _square_reduction(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    return Fact(joined.dependence, 2 * joined.degree, joined.piecewise)


def _compare(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return DISCRETE_FACT


def _where(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    selector = _facts_at(node, entry.selector, facts)
    selector_nodes = _nodes_at(node, entry.selector)
    selected = [n for n in tensor_operands(node) if n not in selector_nodes]
    joined = join_facts([facts[n] for n in selected])
    kink = joined.piecewise or any(f.dependence is not Dependence.STATIC for f in selector)
    dependence = max(joined.dependence, *(f.dependence for f in selector), Dependence.STATIC)
    return Fact(dependence, joined.degree, kink)


def _lookup(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    index_nodes = _nodes_at(node, entry.selector)
    table = join_facts(facts[n] for n in tensor_operands(node) if n not in index_nodes)
    index = join_facts(facts[n] for n in index_nodes)
    if index.dependence is Dependence.STATIC:
        return table  # a fixed slice: data movement
    if table.dependence is Dependence.STATIC:
        # A static table read at input-dependent places is a continuous source.
        if index.dependence is Dependence.DISCRETE:
            return Fact.continuous_source()
        return STATIC_FACT if index.dependence is Dependence.STATIC else DISCRETE_FACT
    return Fact(max(table.dependence, index.dependence), table.degree, True)


def _select_top(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    values = _relu(node, entry, operands, facts)
    if isinstance(node.meta.get("val"), (tuple, list)) or node.meta.get("outputs", 1) > 1:
        return (values, DISCRETE_FACT)
    return values


def _normalization(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    return Fact(joined.dependence, INF, joined.piecewise)


def _batch_norm(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if is_training_batch_norm(node):
        return _normalization(node, entry, operands, facts)
    return join_facts(operands)


def _recurrent(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if "relu" in entry.implies:
        return Fact(joined.dependence, joined.degree, True)
    return Fact(joined.dependence, INF, joined.piecewise)


def _static(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return STATIC_FACT


def is_training_batch_norm(node: fx.Node) -> bool:
    """Whether a batch-norm node normalises with batch statistics (training mode)."""
    return bool(argument(node, 5, "training"))


def _nodes_at(node: fx.Node, positions: tuple[int, ...]) -> set[fx.Node]:
    return set(multiplied_operands(node, positions))


Transfer = Callable[[fx.Node, OpEntry, list[Fact], Facts], "Fact | tuple[Fact, ...]"]

RULES: dict[Rule, Transfer] = {
    Rule.STRUCTURAL: _join,
    Rule.AFFINE: _join,
    Rule.PRODUCT: _product,
    Rule.DIVIDE: _divide,
    Rule.CONTRACTION: _contraction,
    Rule.ATTENTION: _attention,
    Rule.RELU: _relu,
    Rule.SMOOTH: _smooth,
    Rule.POW: _pow,
    Rule.SQUARE_REDUCTION: _square_reduction,
    Rule.NORMALIZATION: _normalization,
    Rule.BATCH_NORM: _batch_norm,
    Rule.COMPARE: _compare,
    Rule.WHERE: _where,
    Rule.LOOKUP: _lookup,
    Rule.SELECT_TOP: _select_top,
    Rule.RECURRENT: _recurrent,
    Rule.STATIC: _static,
}
assert set(RULES) == set(Rule) - {Rule.UNKNOWN}, "every rule needs a transfer function"
