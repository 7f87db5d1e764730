"""The transfer functions of op families with an algebra of their own: fused attention,
lerp, prelu, scatter reductions, batch norm, products of entries (prod, det), norms,
pairwise distances, grid sampling, inverses, glu, and the gradients of activations,
convolutions and attention.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> class Lerp(torch.nn.Module):
...     def forward(self, x):
...         return torch.lerp(x[:, :2], x[:, 2:], torch.sigmoid(x[:, :2]))
>>> traced = trace(Lerp(), (torch.randn(3, 4),))
>>> str(node_facts(traced)[traced.output_node].degree)
'inf'
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import argument_named, op_name, value_meta
from analyzer.passes.facts import (
    INF,
    Dependence,
    Fact,
    Facts,
    continuous_degree,
    join_facts,
    smooth_of,
)
from analyzer.passes.op_arguments import (
    DETERMINANTS,
    LOG_DETERMINANTS,
    SCATTER_PRODUCTS,
    attention_inputs,
    backward_operands,
    cdist_is_piecewise_linear,
    grid_mode,
    inverted_matrix,
    is_training_batch_norm,
    norm_is_piecewise_linear,
    scatter_reduction,
)
from analyzer.passes.operands import fact_of, named_node, output_count, size_along
from analyzer.passes.registry import OpEntry, Rule
from analyzer.passes.transfer_core import Transfer, selection


def _attention(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """softmax(q·kᵀ + mask)·v: smooth in q, k and the mask, linear in v."""
    joined = join_facts(operands)
    if entry.implies & {"relu", "nonlinearity"}:  # a whole fused encoder layer
        return smooth_of(joined)
    if any(facts[n].is_continuous for n in attention_inputs(node).weights_from):
        return smooth_of(joined)
    return joined


def _lerp(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """lerp(a, b, w) = a + w·(b − a): a product of w and b − a when w is a tensor."""
    joined = join_facts(operands)
    ends = join_facts(
        [fact_of(facts, named_node(node, "self")), fact_of(facts, named_node(node, "end"))]
    )
    weight = fact_of(facts, named_node(node, "weight"))
    degree = continuous_degree(ends) + continuous_degree(weight)
    return Fact(joined.dependence, max(degree, ends.degree), joined.piecewise)


def _prelu(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """prelu(x, a) = max(0, x) + a·min(0, x): piecewise, and a product when a varies."""
    joined = join_facts(operands)
    value, slope = (
        fact_of(facts, named_node(node, "self")),
        fact_of(facts, named_node(node, "weight")),
    )
    degree = continuous_degree(value) + continuous_degree(slope)
    return Fact(joined.dependence, max(degree, joined.degree), True)


def _scatter(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """scatter / scatter_reduce / index_reduce: ``multiply``/``prod`` multiply entries of
    ``self`` and ``src`` that land on one place; ``amax``/``amin`` select; ``mean``
    divides by a count of contributions; the rest add."""
    reduction = scatter_reduction(node)
    placed = selection(node, entry, operands, facts)
    if reduction in ("amax", "amin"):
        return Fact(placed.dependence, placed.degree, True)
    if reduction not in SCATTER_PRODUCTS:
        return placed
    base = fact_of(facts, named_node(node, "self"))
    source = fact_of(facts, named_node(node, "src") or named_node(node, "source"))
    contributions = size_along(named_node(node, "index"), argument_named(node, "dim"))
    if not source.is_continuous:
        return placed
    # each place multiplies at most `contributions` entries of src (and self's own)
    degree = INF if contributions is None else contributions * source.degree
    return Fact(placed.dependence, continuous_degree(base) + degree, placed.piecewise)


def _batch_norm(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """Training mode normalises by batch statistics (smooth); eval mode computes
    (x − mean) / sqrt(var + eps) · weight + bias from its arguments, which is affine in x
    only while var and weight are static."""
    joined = join_facts(operands)
    if is_training_batch_norm(node):
        return smooth_of(joined)
    value = join_facts([fact_of(facts, named_node(node, n)) for n in ("input", "running_mean")])
    if fact_of(facts, named_node(node, "running_var")).is_continuous:
        return smooth_of(joined)
    weight, bias = (
        fact_of(facts, named_node(node, "weight")),
        fact_of(facts, named_node(node, "bias")),
    )
    degree = max(continuous_degree(value) + continuous_degree(weight), bias.degree)
    return Fact(joined.dependence, degree, joined.piecewise)


def _entry_product(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """prod / cumprod / det: products of distinct entries of one tensor; the degree is
    the number of factors (the reduced length, or n for an n×n determinant)."""
    joined = join_facts(operands)
    source = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    if source is None:
        return joined
    if op_name(node) in LOG_DETERMINANTS:
        return smooth_of(joined)
    if op_name(node) in DETERMINANTS:
        shape, _ = value_meta(source)
        factors = shape[-1] if shape and isinstance(shape[-1], int) else None
    else:
        dim = argument_named(node, "dim")
        factors = size_along(source, dim)
    if factors is None:
        return smooth_of(joined)
    return Fact(joined.dependence, factors * facts[source].degree, joined.piecewise)


def _norm(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """‖x‖₁ and ‖x‖∞ are piecewise linear; every other order (2 by default) is smooth."""
    joined = join_facts(operands)
    if norm_is_piecewise_linear(node):
        return Fact(joined.dependence, joined.degree, True)
    return smooth_of(joined)


def _cdist(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """‖x1ᵢ − x2ⱼ‖_p: piecewise linear for p = 1 or ∞, smooth otherwise."""
    joined = join_facts(operands)
    if cdist_is_piecewise_linear(node):
        return Fact(joined.dependence, joined.degree, True)
    return smooth_of(joined)


def _grid_sample(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """Reads the image at grid-dependent places (a selection) with weights that are
    polynomial in the grid's fractional part: linear (bilinear), cubic (bicubic), none
    (nearest)."""
    joined = join_facts(operands)
    image = fact_of(facts, named_node(node, "input"))
    grid = fact_of(facts, named_node(node, "grid"))
    # the weights multiply one polynomial per spatial coordinate (the grid's last axis)
    shape, _ = value_meta(named_node(node, "grid")) if named_node(node, "grid") else (None, None)
    coordinates = shape[-1] if shape and isinstance(shape[-1], int) else None
    per_coordinate = {"bilinear": 1, "bicubic": 3, "nearest": 0}[grid_mode(node)]
    if coordinates is None and per_coordinate and grid.is_continuous:
        return smooth_of(joined)
    per_grid = per_coordinate * (coordinates or 0)
    degree = continuous_degree(image) + per_grid * continuous_degree(grid)
    return Fact(joined.dependence, degree, joined.piecewise or grid.dependence > Dependence.STATIC)


def _inverse(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """inv(A), solve(A, B) = A⁻¹·B: rational in A (smooth), linear in B."""
    joined = join_facts(operands)
    if op_name(node) == "aten.linalg_lstsq" and joined.is_continuous:
        return smooth_of(joined)  # its residuals ‖A·x − b‖² are quadratic in b
    if fact_of(facts, inverted_matrix(node)).is_continuous:
        return smooth_of(joined)
    return joined


def _split_gate(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """glu(x) = a · sigmoid(b) for the two halves a, b of x: smooth."""
    return smooth_of(join_facts(operands))


# --- gradients ---------------------------------------------------------------------------


def _activation_backward(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    """δ ⊙ f'(x): the gradient times the activation's derivative at x (or at its output
    y). A step derivative (ReLU) gates; a polynomial one adds its degree; else smooth."""
    joined = join_facts(operands)
    gradient, argument_ = backward_operands(node)
    delta, point = fact_of(facts, gradient), fact_of(facts, argument_)
    if entry.derivative_degree == 0:
        fact = Fact(joined.dependence, delta.degree, True)
    elif not point.is_continuous:
        fact = Fact(joined.dependence, max(delta.degree, point.degree), joined.piecewise)
    elif entry.derivative_degree is None:
        fact = smooth_of(joined)
    else:
        degree = continuous_degree(delta) + entry.derivative_degree * point.degree
        fact = Fact(joined.dependence, degree, joined.piecewise)
    count = output_count(node)
    return (fact,) * count if count > 1 else fact


def _conv_backward(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> tuple[Fact, ...]:
    """(∂L/∂x, ∂L/∂W, ∂L/∂b) = (δ ⋆ W, δ ⋆ x, Σ δ): each a contraction of δ with one
    operand of the forward convolution."""
    joined = join_facts(operands)
    delta = fact_of(facts, named_node(node, "grad_output"))
    value, weight = (
        fact_of(facts, named_node(node, "input")),
        fact_of(facts, named_node(node, "weight")),
    )

    def contraction(other: Fact) -> Fact:
        dependence = max(delta.dependence, other.dependence)
        degree = continuous_degree(delta) + continuous_degree(other)
        return Fact(dependence, max(degree, delta.degree, other.degree), joined.piecewise)

    return (contraction(weight), contraction(value), delta)


def _attention_backward(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    """Gradients of a fused attention with respect to q, k and v: smooth in q and k."""
    fact = _attention(node, entry, operands, facts)
    if any(facts[n].is_continuous for n in attention_inputs(node).weights_from):
        fact = smooth_of(join_facts(operands))
    count = output_count(node)
    return (fact,) * count if count > 1 else fact


FAMILY_RULES: dict[Rule, Transfer] = {
    Rule.ATTENTION: _attention,
    Rule.BATCH_NORM: _batch_norm,
    Rule.LERP: _lerp,
    Rule.PRELU: _prelu,
    Rule.SCATTER: _scatter,
    Rule.ENTRY_PRODUCT: _entry_product,
    Rule.NORM: _norm,
    Rule.CDIST: _cdist,
    Rule.GRID_SAMPLE: _grid_sample,
    Rule.INVERSE: _inverse,
    Rule.SPLIT_GATE: _split_gate,
    Rule.ACTIVATION_BACKWARD: _activation_backward,
    Rule.CONV_BACKWARD: _conv_backward,
    Rule.ATTENTION_BACKWARD: _attention_backward,
}
