"""The transfer functions: how each :class:`~analyzer.passes.registry.Rule` turns the
facts of an op's operands into the fact of its result (docs/concepts.md's degree rules).

Every function has the signature ``(node, entry, operand_facts, facts) -> Fact`` (or a
tuple of facts for ops with several outputs, which ``getitem`` picks apart). Operands
are read by argument name from the op's schema where positions differ between
overloads. The table :data:`RULES` is complete: a rule without a transfer is an error.

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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch.fx as fx

from analyzer.frontend.dialect import (
    argument,
    argument_named,
    node_inputs,
    op_name,
    op_schema,
    tensor_operands,
    value_meta,
)
from analyzer.passes.facts import (
    DISCRETE_FACT,
    INF,
    STATIC_FACT,
    Degree,
    Dependence,
    Fact,
    join_facts,
)
from analyzer.passes.registry import OpEntry, Rule

Facts = dict[fx.Node, Fact]


# --- reading operands -------------------------------------------------------------------


def operand_references(node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    """The nodes at argument ``positions`` (``-1``: the last), lists flattened, repeats kept;
    a position past the positional arguments is read by its schema name from the keywords."""
    return [ref for position in positions for ref in node_inputs(_argument_at(node, position))]


def _argument_at(node: fx.Node, position: int) -> Any:
    if position < len(node.args):
        return argument(node, position)
    schema = op_schema(node)
    if schema is None or position >= len(schema.arguments):
        return None
    return node.kwargs.get(schema.arguments[position].name)


def multiplied_positions(node: fx.Node, entry: OpEntry) -> tuple[int, ...]:
    """The argument positions an op multiplies: declared, else every argument (``mul``)."""
    return entry.multiplied or tuple(range(len(node.args)))


def multiplied_operands(node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    """The nodes at argument ``positions``, lists flattened, in order, without repeats."""
    return list(dict.fromkeys(operand_references(node, positions)))


def named_node(node: fx.Node, name: str) -> fx.Node | None:
    """The tensor argument called ``name`` in the op's schema, if it is a graph node."""
    value = argument_named(node, name)
    return value if isinstance(value, fx.Node) else None


def is_complex(node: fx.Node) -> bool:
    """Whether a value is complex: its "pointwise" ops mix its real and imaginary parts."""
    _, dtype = value_meta(node)
    return dtype is not None and dtype.startswith("complex")


def _facts_at(node: fx.Node, positions: tuple[int, ...], facts: Facts) -> list[Fact]:
    """Facts of the nodes at argument ``positions``, repeats kept (``x * x`` is quadratic)."""
    return [facts[n] for n in operand_references(node, positions)]


def _nodes_at(node: fx.Node, positions: tuple[int, ...]) -> set[fx.Node]:
    return set(multiplied_operands(node, positions))


def _fact(facts: Facts, node: fx.Node | None) -> Fact:
    return STATIC_FACT if node is None else facts[node]


def _continuous_degree(fact: Fact) -> Degree:
    """What a factor adds to a product's degree: nothing when it is not continuous."""
    return fact.degree if fact.is_continuous else 0


def _smooth_of(joined: Fact) -> Fact:
    return Fact(joined.dependence, INF, joined.piecewise)


def _outputs(node: fx.Node) -> int:
    """How many values an op returns (1 for a plain tensor)."""
    value = node.meta.get("val")
    if isinstance(value, (tuple, list)):
        return len(value)
    return int(node.meta.get("outputs", 1))


def _size_along(node: fx.Node | None, dim: Any) -> int | None:
    """The length of ``node``'s value along ``dim`` (all entries when ``dim`` is None)."""
    shape, _ = value_meta(node) if node is not None else (None, None)
    if shape is None or any(not isinstance(s, int) for s in shape):
        return None
    if dim is None:
        return math.prod(shape)
    dims = dim if isinstance(dim, (list, tuple)) else [dim]
    try:
        return math.prod(shape[d] for d in dims) if shape else 1
    except (IndexError, TypeError):
        return None


# --- the generic rules ------------------------------------------------------------------


def _join(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if entry.value_args:  # a copy or fill: the other arguments only give the shape
        joined = join_facts(facts[n] for name in entry.value_args for n in _named_nodes(node, name))
    else:
        joined = join_facts(operands)
    if joined.is_continuous and is_rounding_cast(node):
        return DISCRETE_FACT  # x.long(), x.to(torch.bool): a step function of x
    return joined


def is_rounding_cast(node: fx.Node) -> bool:
    """Whether a data-movement op's single result is an integer or boolean tensor (a
    float read into it is truncated: piecewise constant)."""
    value = node.meta.get("val")
    if value is not None and not hasattr(value, "dtype"):
        return False  # several results (split), or a number
    _, dtype = value_meta(node)
    return dtype is not None and dtype.startswith(("int", "uint", "bool", "long"))


def _named_nodes(node: fx.Node, name: str) -> list[fx.Node]:
    return node_inputs(argument_named(node, name))


def factor_groups(node: fx.Node, entry: OpEntry) -> list[list[fx.Node]]:
    """The factors of a product, each a list of the nodes summed into it: one node per
    multiplied position for ``mul``; declared groups for ``δ · (x − y)``."""
    if entry.factors:
        return [operand_references(node, group) for group in entry.factors]
    return [[n] for n in operand_references(node, multiplied_positions(node, entry))]


def _product(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if entry.factors:
        joined = join_facts(operands)
        groups = [join_facts(facts[n] for n in group) for group in factor_groups(node, entry)]
        kink = joined.piecewise or any(g.dependence is Dependence.DISCRETE for g in groups)
        return Fact(joined.dependence, sum(_continuous_degree(g) for g in groups), kink)
    positions = multiplied_positions(node, entry)
    multiplied = _facts_at(node, positions, facts)
    joined = join_facts(operands)
    # A product with a discrete value is a data-dependent mask: a kink, not a degree.
    kink = joined.piecewise or any(f.dependence is Dependence.DISCRETE for f in multiplied)
    multiplied_nodes = _nodes_at(node, positions)
    rest = [facts[n] for n in tensor_operands(node) if n not in multiplied_nodes]
    degree = max(
        sum((_continuous_degree(f) for f in multiplied), 0),
        max((f.degree for f in rest), default=0),
    )
    return Fact(joined.dependence, degree, kink)


def _divide(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if argument_named(node, "rounding_mode") is not None:
        return DISCRETE_FACT  # floor / trunc division: piecewise constant
    if any(f.is_continuous for f in _facts_at(node, (entry.divisor,), facts)):
        return _smooth_of(joined)
    if entry.multiplied:  # addcdiv: self + value · t1 / t2
        return _product(node, entry, operands, facts)
    return joined


def _contraction(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return _product(node, entry, operands, facts)


def _relu(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if any(is_complex(n) for n in tensor_operands(node)):
        return _smooth_of(joined)  # |a + ib| = sqrt(a² + b²)
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
        return _smooth_of(joined)  # k ** x
    natural = isinstance(exponent, int) or (isinstance(exponent, float) and exponent.is_integer())
    if natural and exponent >= 0 and not isinstance(exponent, bool):
        return Fact(joined.dependence, facts[base].degree * int(exponent), joined.piecewise)
    return _smooth_of(joined)


MATRIX_POWERS = frozenset({"aten.linalg_matrix_power", "aten.matrix_power"})


def power_exponent(node: fx.Node) -> Any:
    """The exponent of ``pow`` (``x ** k``), ``square`` (2) or a matrix power (``n``)."""
    name = op_name(node)
    if name == "aten.pow":
        return argument(node, 1, "exponent")
    if name in MATRIX_POWERS:
        return argument(node, 1, "n")
    return 2


def _square_reduction(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    return Fact(joined.dependence, 2 * joined.degree, joined.piecewise)


def _covariance(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """cov(x, fweights, aweights) = Σ w·(x − μ_w)(x − μ_w)ᵀ / (Σ w − correction): quadratic
    in x; rational in the observation weights when they vary."""
    joined = join_facts(operands)
    weights = [_fact(facts, named_node(node, n)) for n in ("fweights", "aweights")]
    if any(w.is_continuous for w in weights):
        return _smooth_of(joined)
    value = _fact(facts, named_node(node, "self") or named_node(node, "input"))
    return Fact(joined.dependence, 2 * value.degree, joined.piecewise)


def _compare(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    if op_name(node) == "aten.sgn" and any(is_complex(n) for n in tensor_operands(node)):
        return _smooth_of(join_facts(operands))  # z / |z|
    return DISCRETE_FACT


def _where(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    selector = _facts_at(node, entry.selector, facts)
    selector_nodes = _nodes_at(node, entry.selector)
    selected = [n for n in tensor_operands(node) if n not in selector_nodes]
    if entry.value_args:  # the other arguments give a shape only
        selected = [n for name in entry.value_args for n in _named_nodes(node, name)]
    joined = join_facts([facts[n] for n in selected])
    kink = joined.piecewise or any(f.dependence is not Dependence.STATIC for f in selector)
    dependence = max(joined.dependence, *(f.dependence for f in selector), Dependence.STATIC)
    degree = joined.degree
    if entry.factors:  # a selection of a product (nll_loss: −w[t]·x[t])
        groups = [join_facts(facts[n] for n in group) for group in factor_groups(node, entry)]
        degree = sum(_continuous_degree(g) for g in groups)
        if divides_by_weights(node) and groups[-1].is_continuous:
            degree = INF  # the mean reduction divides by Σ w[t]
    return Fact(dependence, degree, kink)


MEAN_REDUCTION = 1  # aten's Reduction enum: 0 none, 1 mean, 2 sum


def divides_by_weights(node: fx.Node) -> bool:
    """Whether a weighted nll_loss divides by the weights it selected (mean reduction)."""
    return op_name(node).startswith("aten.nll_loss") and (
        argument_named(node, "reduction") in (MEAN_REDUCTION, None)
    )


def _lookup(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    index_nodes = _nodes_at(node, entry.selector)
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
    if argument_named(node, "mode") == EMBEDDING_BAG_MAX and read.dependence > Dependence.STATIC:
        read = Fact(read.dependence, read.degree, True)  # the largest of the rows read
    if not weights.is_continuous:
        return read
    degree = _continuous_degree(read) + weights.degree
    return Fact(Dependence.CONTINUOUS, degree, read.piecewise or weights.piecewise)


EMBEDDING_BAG_MAX = 2  # embedding_bag's mode: 0 sum, 1 mean, 2 max


def _select_top(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    values = _relu(node, entry, operands, facts)
    count = _outputs(node)
    if count > 1:  # (values, indices[, counts]): the rest are positions and counts
        return (values, *([DISCRETE_FACT] * (count - 1)))
    return values


def _normalization(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return _smooth_of(join_facts(operands))


def _recurrent(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    joined = join_facts(operands)
    if "relu" in entry.implies:
        return Fact(joined.dependence, joined.degree, True)
    return _smooth_of(joined)


def _static(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    return STATIC_FACT


# --- op families with their own algebra -------------------------------------------------


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
    """Query, key, value and mask of a fused attention (``src`` for all three in a fused
    encoder layer)."""
    source = named_node(node, "src")
    if source is not None:
        return AttentionInputs(source, source, source, named_node(node, "mask"))
    mask = named_node(node, "attn_mask") or named_node(node, "attn_bias")
    return AttentionInputs(
        named_node(node, "query"), named_node(node, "key"), named_node(node, "value"),
        mask or named_node(node, "mask"),
    )  # fmt: skip


def _attention(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """softmax(q·kᵀ + mask)·v: smooth in q, k and the mask, linear in v."""
    joined = join_facts(operands)
    if entry.implies & {"relu", "nonlinearity"}:  # a whole fused encoder layer
        return _smooth_of(joined)
    if any(facts[n].is_continuous for n in attention_inputs(node).weights_from):
        return _smooth_of(joined)
    return joined


def _lerp(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """lerp(a, b, w) = a + w·(b − a): a product of w and b − a when w is a tensor."""
    joined = join_facts(operands)
    ends = join_facts(
        [_fact(facts, named_node(node, "self")), _fact(facts, named_node(node, "end"))]
    )
    weight = _fact(facts, named_node(node, "weight"))
    degree = _continuous_degree(ends) + _continuous_degree(weight)
    return Fact(joined.dependence, max(degree, ends.degree), joined.piecewise)


def _prelu(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """prelu(x, a) = max(0, x) + a·min(0, x): piecewise, and a product when a varies."""
    joined = join_facts(operands)
    value, slope = _fact(facts, named_node(node, "self")), _fact(facts, named_node(node, "weight"))
    degree = _continuous_degree(value) + _continuous_degree(slope)
    return Fact(joined.dependence, max(degree, joined.degree), True)


SCATTER_PRODUCTS = frozenset({"multiply", "prod"})


def scatter_reduction(node: fx.Node) -> str:
    """The reduction a scatter applies: ``"sum"`` for plain scatter/add, else its name."""
    reduce = argument_named(node, "reduce")
    return str(reduce) if reduce is not None else "sum"


def _scatter(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """scatter / scatter_reduce / index_reduce: ``multiply``/``prod`` multiply entries of
    ``self`` and ``src`` that land on one place; ``amax``/``amin`` select; ``mean``
    divides by a count of contributions; the rest add."""
    reduction = scatter_reduction(node)
    placed = _where(node, entry, operands, facts)
    if reduction in ("amax", "amin"):
        return Fact(placed.dependence, placed.degree, True)
    if reduction not in SCATTER_PRODUCTS:
        return placed
    base = _fact(facts, named_node(node, "self"))
    source = _fact(facts, named_node(node, "src") or named_node(node, "source"))
    contributions = _size_along(named_node(node, "index"), argument_named(node, "dim"))
    if not source.is_continuous:
        return placed
    # each place multiplies at most `contributions` entries of src (and self's own)
    degree = INF if contributions is None else contributions * source.degree
    return Fact(placed.dependence, _continuous_degree(base) + degree, placed.piecewise)


def _batch_norm(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """Training mode normalises by batch statistics (smooth); eval mode computes
    (x − mean) / sqrt(var + eps) · weight + bias from its arguments, which is affine in x
    only while var and weight are static."""
    joined = join_facts(operands)
    if is_training_batch_norm(node):
        return _smooth_of(joined)
    value = join_facts([_fact(facts, named_node(node, n)) for n in ("input", "running_mean")])
    if _fact(facts, named_node(node, "running_var")).is_continuous:
        return _smooth_of(joined)
    weight, bias = _fact(facts, named_node(node, "weight")), _fact(facts, named_node(node, "bias"))
    degree = max(_continuous_degree(value) + _continuous_degree(weight), bias.degree)
    return Fact(joined.dependence, degree, joined.piecewise)


def is_training_batch_norm(node: fx.Node) -> bool:
    """Whether a batch-norm node normalises with batch statistics (training mode)."""
    if op_name(node) == "aten._native_batch_norm_legit_no_training":
        return False
    return bool(argument_named(node, "training"))


def _entry_product(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """prod / cumprod / det: products of distinct entries of one tensor; the degree is
    the number of factors (the reduced length, or n for an n×n determinant)."""
    joined = join_facts(operands)
    source = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    if source is None:
        return joined
    if op_name(node) in LOG_DETERMINANTS:
        return _smooth_of(joined)
    if op_name(node) in DETERMINANTS:
        shape, _ = value_meta(source)
        factors = shape[-1] if shape and isinstance(shape[-1], int) else None
    else:
        dim = argument_named(node, "dim")
        factors = _size_along(source, dim)
    if factors is None:
        return _smooth_of(joined)
    return Fact(joined.dependence, factors * facts[source].degree, joined.piecewise)


DETERMINANTS = frozenset({"aten.det", "aten.linalg_det", "aten._linalg_det"})
LOG_DETERMINANTS = frozenset({"aten.slogdet", "aten.linalg_slogdet", "aten.logdet"})


def _norm(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """‖x‖₁ and ‖x‖∞ are piecewise linear; every other order (2 by default) is smooth."""
    joined = join_facts(operands)
    if norm_is_piecewise_linear(node):
        return Fact(joined.dependence, joined.degree, True)
    return _smooth_of(joined)


def norm_is_piecewise_linear(node: fx.Node) -> bool:
    """Whether a norm's order is 1 or ±∞ (a sum or maximum of absolute values) of a real
    tensor: a complex entry's absolute value is sqrt(re² + im²)."""
    if any(is_complex(n) for n in tensor_operands(node)):
        return False
    order = next((v for v in (argument_named(node, n) for n in ("ord", "p")) if v is not None), 2)
    if op_name(node) == "aten.linalg_matrix_norm" and order == -1:
        return True  # the smallest absolute column sum
    # a vector's order −1 is (Σ 1/|xᵢ|)⁻¹: rational, not piecewise linear
    return isinstance(order, (int, float)) and order in (1, math.inf, -math.inf)


def _cdist(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """‖x1ᵢ − x2ⱼ‖_p: piecewise linear for p = 1 or ∞, smooth otherwise."""
    joined = join_facts(operands)
    if cdist_is_piecewise_linear(node):
        return Fact(joined.dependence, joined.degree, True)
    return _smooth_of(joined)


def cdist_is_piecewise_linear(node: fx.Node) -> bool:
    order = argument_named(node, "p")
    return isinstance(order, (int, float)) and order in (0, 1, math.inf)


GRID_MODES = {0: "bilinear", 1: "nearest", 2: "bicubic"}


def grid_mode(node: fx.Node) -> str:
    return GRID_MODES.get(argument_named(node, "interpolation_mode"), "bicubic")


def _grid_sample(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """Reads the image at grid-dependent places (a selection) with weights that are
    polynomial in the grid's fractional part: linear (bilinear), cubic (bicubic), none
    (nearest)."""
    joined = join_facts(operands)
    image = _fact(facts, named_node(node, "input"))
    grid = _fact(facts, named_node(node, "grid"))
    # the weights multiply one polynomial per spatial coordinate (the grid's last axis)
    shape, _ = value_meta(named_node(node, "grid")) if named_node(node, "grid") else (None, None)
    coordinates = shape[-1] if shape and isinstance(shape[-1], int) else None
    per_coordinate = {"bilinear": 1, "bicubic": 3, "nearest": 0}[grid_mode(node)]
    if coordinates is None and per_coordinate and grid.is_continuous:
        return _smooth_of(joined)
    per_grid = per_coordinate * (coordinates or 0)
    degree = _continuous_degree(image) + per_grid * _continuous_degree(grid)
    return Fact(joined.dependence, degree, joined.piecewise or grid.dependence > Dependence.STATIC)


def _inverse(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """inv(A), solve(A, B) = A⁻¹·B: rational in A (smooth), linear in B."""
    joined = join_facts(operands)
    if op_name(node) == "aten.linalg_lstsq" and joined.is_continuous:
        return _smooth_of(joined)  # its residuals ‖A·x − b‖² are quadratic in b
    if _fact(facts, inverted_matrix(node)).is_continuous:
        return _smooth_of(joined)
    return joined


def inverted_matrix(node: fx.Node) -> fx.Node | None:
    """The matrix an inverse or solve inverts: ``A``, cholesky_solve's factor ``input2``,
    else the first argument (``inv(self)``)."""
    return named_node(node, "A") or named_node(node, "input2") or named_node(node, "self")


def _split_gate(node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts) -> Fact:
    """glu(x) = a · sigmoid(b) for the two halves a, b of x: smooth."""
    return _smooth_of(join_facts(operands))


def _activation_backward(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    """δ ⊙ f'(x): the gradient times the activation's derivative at x (or at its output
    y). A step derivative (ReLU) gates; a polynomial one adds its degree; else smooth."""
    joined = join_facts(operands)
    gradient, argument_ = backward_operands(node)
    delta, point = _fact(facts, gradient), _fact(facts, argument_)
    if entry.derivative_degree == 0:
        fact = Fact(joined.dependence, delta.degree, True)
    elif not point.is_continuous:
        fact = Fact(joined.dependence, max(delta.degree, point.degree), joined.piecewise)
    elif entry.derivative_degree is None:
        fact = _smooth_of(joined)
    else:
        degree = _continuous_degree(delta) + entry.derivative_degree * point.degree
        fact = Fact(joined.dependence, degree, joined.piecewise)
    count = _outputs(node)
    return (fact,) * count if count > 1 else fact


def backward_operands(node: fx.Node) -> tuple[fx.Node | None, fx.Node | None]:
    """The incoming gradient δ and the point the derivative is taken at."""
    gradient = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    for name in ("self", "output", "input", "self_or_result"):
        point = named_node(node, name)
        if point is not None:
            return gradient, point
    rest = [n for n in tensor_operands(node) if n is not gradient]
    return gradient, rest[0] if rest else None


def _conv_backward(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> tuple[Fact, ...]:
    """(∂L/∂x, ∂L/∂W, ∂L/∂b) = (δ ⋆ W, δ ⋆ x, Σ δ): each a contraction of δ with one
    operand of the forward convolution."""
    joined = join_facts(operands)
    delta = _fact(facts, named_node(node, "grad_output"))
    value, weight = (
        _fact(facts, named_node(node, "input")),
        _fact(facts, named_node(node, "weight")),
    )

    def contraction(other: Fact) -> Fact:
        dependence = max(delta.dependence, other.dependence)
        degree = _continuous_degree(delta) + _continuous_degree(other)
        return Fact(dependence, max(degree, delta.degree, other.degree), joined.piecewise)

    return (contraction(weight), contraction(value), delta)


def _attention_backward(
    node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
) -> Fact | tuple[Fact, ...]:
    """Gradients of a fused attention with respect to q, k and v: smooth in q and k."""
    fact = _attention(node, entry, operands, facts)
    if any(facts[n].is_continuous for n in attention_inputs(node).weights_from):
        fact = _smooth_of(join_facts(operands))
    count = _outputs(node)
    return (fact,) * count if count > 1 else fact


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
    Rule.LERP: _lerp,
    Rule.PRELU: _prelu,
    Rule.SCATTER: _scatter,
    Rule.ENTRY_PRODUCT: _entry_product,
    Rule.NORM: _norm,
    Rule.CDIST: _cdist,
    Rule.GRID_SAMPLE: _grid_sample,
    Rule.INVERSE: _inverse,
    Rule.SPLIT_GATE: _split_gate,
    Rule.COVARIANCE: _covariance,
    Rule.HISTOGRAM: _histogram,
    Rule.ACTIVATION_BACKWARD: _activation_backward,
    Rule.CONV_BACKWARD: _conv_backward,
    Rule.ATTENTION_BACKWARD: _attention_backward,
}
assert set(RULES) == set(Rule) - {Rule.UNKNOWN}, "every rule needs a transfer function"


def _kinked(fact: Fact) -> Fact:
    if fact.dependence is Dependence.STATIC:
        return fact
    return Fact(fact.dependence, fact.degree, True)


def _honouring_kinks(transfer: Transfer) -> Transfer:
    """``transfer``, made piecewise for an op with kinks of its own (``entry.kinked``)."""

    def apply(
        node: fx.Node, entry: OpEntry, operands: list[Fact], facts: Facts
    ) -> Fact | tuple[Fact, ...]:
        result = transfer(node, entry, operands, facts)
        if not entry.kinked:
            return result
        return tuple(map(_kinked, result)) if isinstance(result, tuple) else _kinked(result)

    apply.__name__ = apply.__qualname__ = getattr(transfer, "__name__", "transfer")
    return apply


RULES = {rule: _honouring_kinks(transfer) for rule, transfer in RULES.items()}
