"""The transfer functions most ops share: data movement, sums, products, quotients,
powers, kinks, smooth functions, comparisons, selections and lookups
(docs/concepts.md's degree rules). :mod:`analyzer.passes.transfer` gathers them with
the op families' own (:mod:`analyzer.passes.transfer_families`) into one table.

Every function has the signature ``(node, entry, operand_facts, facts) -> Fact`` (or a
tuple of facts for ops with several outputs, which ``getitem`` picks apart).

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> class Square(torch.nn.Module):
...     def forward(self, x):
...         return x * x + 1
>>> traced = trace(Square(), (torch.randn(3),))
>>> node_facts(traced)[traced.output_node].degree
2
"""

from __future__ import annotations

from collections.abc import Callable

import torch.fx as fx

from analyzer.frontend.dialect import (
    argument,
    argument_named,
    node_inputs,
    op_name,
    tensor_operands,
    value_meta,
)
from analyzer.passes.facts import (
    DISCRETE_FACT,
    INF,
    STATIC_FACT,
    Dependence,
    Fact,
    Facts,
    continuous_degree,
    join_facts,
    smooth_of,
)
from analyzer.passes.op_arguments import (
    EMBEDDING_BAG_MAX,
    divides_by_weights,
    is_rounding_cast,
    power_exponent,
    reinterprets_bits,
)
from analyzer.passes.operands import (
    fact_of,
    factor_groups,
    facts_at,
    holds_bits,
    is_complex,
    multiplied_operands,
    multiplied_positions,
    named_node,
    named_nodes,
    output_count,
)
from analyzer.passes.registry import OpEntry, Rule

Transfer = Callable[[fx.Node, OpEntry, list[Fact], Facts], "Fact | tuple[Fact, ...]"]


def _join(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if entry.value_args:  # a copy or fill: the other arguments only give the shape
        joined = join_facts(facts[n] for name in entry.value_args for n in named_nodes(node, name))
    else:
        joined = join_facts(operands)
    if joined.is_continuous and is_rounding_cast(node):
        if any(holds_bits(n, facts) for n in tensor_operands(node)) and not is_boolean(node):
            return BITS_FACT  # a float's bits cast to another integer type: not a rounding
        return DISCRETE_FACT  # x.long(), x.to(torch.bool): a step function of x
    return joined


def _product(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if entry.factors:
        joined = join_facts(operands)
        groups = [join_facts(facts[n] for n in group) for group in factor_groups(node, entry)]
        kink = joined.piecewise or any(g.dependence is Dependence.DISCRETE for g in groups)
        return Fact(joined.dependence, sum(continuous_degree(g) for g in groups), kink)
    positions = multiplied_positions(node, entry)
    multiplied = facts_at(node, positions, facts)
    joined = join_facts(operands)
    # A product with a discrete value is a data-dependent mask: a kink, not a degree.
    kink = joined.piecewise or any(f.dependence is Dependence.DISCRETE for f in multiplied)
    multiplied_nodes = set(multiplied_operands(node, positions))
    rest = [facts[n] for n in tensor_operands(node) if n not in multiplied_nodes]
    degree = max(
        sum((continuous_degree(f) for f in multiplied), 0),
        max((f.degree for f in rest), default=0),
    )
    return Fact(joined.dependence, degree, kink)


def _divide(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if argument_named(node, "rounding_mode") is not None:
        if any(holds_bits(n, facts) for n in tensor_operands(node)):
            return BITS_FACT  # x.view(int) // 2 shifts a float's bits
        return DISCRETE_FACT  # floor / trunc division: piecewise constant
    if any(f.is_continuous for f in facts_at(node, (entry.divisor,), facts)):
        return smooth_of(joined)
    if entry.multiplied:  # addcdiv: self + value · t1 / t2
        return _product(node, entry, operands, facts)
    return joined


def _contraction(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return _product(node, entry, operands, facts)


def _relu(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if any(is_complex(n) for n in tensor_operands(node)):
        return smooth_of(joined)  # |a + ib| = sqrt(a² + b²)
    return Fact(joined.dependence, joined.degree, True)


def _histogram(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """Weighted counts selected by the data (piecewise, linear in the weights); with
    ``density`` divided by Σ w and by a bin width that the data's range sets."""
    joined = join_facts(operands)
    if argument_named(node, "density"):
        return Fact(joined.dependence, INF, True)
    return Fact(joined.dependence, joined.degree, True)


def _smooth(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return Fact(Dependence.CONTINUOUS, INF, join_facts(operands).piecewise)


def _pow(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    base = node.args[0]
    exponent = power_exponent(node)
    if not isinstance(base, fx.Node) or not facts[base].is_continuous:
        return smooth_of(joined)  # k ** x
    natural = isinstance(exponent, int) or (isinstance(exponent, float) and exponent.is_integer())
    if natural and exponent >= 0 and not isinstance(exponent, bool):
        return Fact(joined.dependence, facts[base].degree * int(exponent), joined.piecewise)
    return smooth_of(joined)


def _square_reduction(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    return Fact(joined.dependence, 2 * joined.degree, joined.piecewise)


def _covariance(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """cov(x, fweights, aweights) = Σ w·(x − μ_w)(x − μ_w)ᵀ / (Σ w − correction): quadratic
    in x; rational in the observation weights when they vary."""
    joined = join_facts(operands)
    weights = [fact_of(facts, named_node(node, n)) for n in ("fweights", "aweights")]
    if any(w.is_continuous for w in weights):
        return smooth_of(joined)
    value = fact_of(facts, named_node(node, "self") or named_node(node, "input"))
    return Fact(joined.dependence, 2 * value.degree, joined.piecewise)


def _compare(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if op_name(node) == "aten.sgn" and any(is_complex(n) for n in tensor_operands(node)):
        return smooth_of(join_facts(operands))  # z / |z|
    if any(holds_bits(n, facts) for n in tensor_operands(node)) and not is_boolean(node):
        return BITS_FACT  # x.view(int) & mask: bits changed, not a value compared
    return DISCRETE_FACT


def _bitcast(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """view(dtype): the source's bits read as another type are no polynomial and have
    more pieces than one could count (the worst case); a float viewed as the complex type
    of its width only pairs its entries."""
    joined = join_facts(operands)
    return BITS_FACT if reinterprets_bits(node) else joined


BITS_FACT = Fact(Dependence.CONTINUOUS, INF, True)
"""What a float's bits read as another type are: continuous, no polynomial, piecewise."""


def is_boolean(node: fx.Node) -> bool:
    """Whether an op's result is a boolean tensor (a comparison of bits is a step)."""
    _, dtype = value_meta(node)
    return dtype == "bool"


def selection(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """The fact of a selection by a condition or by indices (``where``, ``masked_fill``,
    a scatter's placement): piecewise when the selector is not static."""
    selector = facts_at(node, entry.selector, facts)
    selector_nodes = set(multiplied_operands(node, entry.selector))
    selected = [n for n in tensor_operands(node) if n not in selector_nodes]
    if entry.value_args:  # the other arguments give a shape only
        selected = [n for name in entry.value_args for n in named_nodes(node, name)]
    joined = join_facts([facts[n] for n in selected])
    kink = joined.piecewise or any(f.dependence is not Dependence.STATIC for f in selector)
    dependence = max(joined.dependence, *(f.dependence for f in selector), Dependence.STATIC)
    degree = joined.degree
    if entry.factors:  # a selection of a product (nll_loss: −w[t]·x[t])
        groups = [join_facts(facts[n] for n in group) for group in factor_groups(node, entry)]
        degree = sum(continuous_degree(g) for g in groups)
        if divides_by_weights(node) and groups[-1].is_continuous:
            degree = INF  # the mean reduction divides by Σ w[t]
    return Fact(dependence, degree, kink)


def _lookup(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    index_nodes = set(multiplied_operands(node, entry.selector))
    table_nodes = set(node_inputs(argument(node, 0)))
    table = join_facts(facts[n] for n in table_nodes)
    index = join_facts(facts[n] for n in index_nodes)
    # embedding_bag's per-sample weights multiply the rows it reads
    weights = join_facts(
        facts[n] for n in tensor_operands(node) if n not in index_nodes | table_nodes
    )
    if index.dependence is Dependence.STATIC:
        read = table  # a fixed slice: data movement
    elif table.dependence is Dependence.STATIC:
        # A static table read at input-dependent places is a continuous source.
        if index.dependence is Dependence.DISCRETE:
            read = Fact.continuous_source()
        else:
            read = STATIC_FACT if index.dependence is Dependence.STATIC else DISCRETE_FACT
    else:
        read = Fact(max(table.dependence, index.dependence), table.degree, True)
    if read.dependence > Dependence.STATIC and is_rounding_cast(node):
        read = DISCRETE_FACT  # integer entries read at varying places: whole numbers
    if argument_named(node, "mode") == EMBEDDING_BAG_MAX and read.dependence > Dependence.STATIC:
        read = Fact(read.dependence, read.degree, True)  # the largest of the rows read
    if not weights.is_continuous:
        return read
    degree = continuous_degree(read) + weights.degree
    return Fact(Dependence.CONTINUOUS, degree, read.piecewise or weights.piecewise)


def _select_top(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    values = _relu(node, entry, operands, facts)
    count = output_count(node)
    if count > 1:  # (values, indices[, counts]): the rest are positions and counts
        return (values, *([DISCRETE_FACT] * (count - 1)))
    return values


def _normalization(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return smooth_of(join_facts(operands))


def _recurrent(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if "relu" in entry.implies:
        return Fact(joined.dependence, joined.degree, True)
    return smooth_of(joined)


def _static(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return STATIC_FACT


CORE_RULES: dict[Rule, Transfer] = {
    Rule.STRUCTURAL: _join,
    Rule.AFFINE: _join,
    Rule.PRODUCT: _product,
    Rule.DIVIDE: _divide,
    Rule.CONTRACTION: _contraction,
    Rule.RELU: _relu,
    Rule.SMOOTH: _smooth,
    Rule.POW: _pow,
    Rule.SQUARE_REDUCTION: _square_reduction,
    Rule.NORMALIZATION: _normalization,
    Rule.COMPARE: _compare,
    Rule.WHERE: selection,
    Rule.LOOKUP: _lookup,
    Rule.SELECT_TOP: _select_top,
    Rule.RECURRENT: _recurrent,
    Rule.STATIC: _static,
    Rule.COVARIANCE: _covariance,
    Rule.HISTOGRAM: _histogram,
    Rule.BITCAST: _bitcast,
}
