"""Input-by-input multiplicative sites, their witness paths, and dynamic transposes.

A site is a node that multiplies two or more ``continuous`` operands (DESIGN.md §2).
Two facts found in one forward sweep tell its kind:

* the *pointwise root* of a value: the tensor it is an entrywise function of
  (``sigmoid(h)`` and ``h`` share the root ``h``), so ``h * sigmoid(h)`` and ``x * x``
  are pointwise nonlinearities, not sites;
* the *statistic* a value is: the root whose reduction it is (``rsqrt(mean(h²))`` is a
  statistic of ``h``), so ``h * rsqrt(mean(h²))`` is a ``normalization`` site.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> class Glu(torch.nn.Module):
...     def forward(self, x):
...         return torch.sigmoid(x[..., :2]) * x[..., 2:]
>>> traced = trace(Glu(), (torch.randn(2, 4),))
>>> [s.kind for s in input_products(traced, node_facts(traced))]
['gating']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx

from analyzer.frontend.dialect import (
    TracedModel,
    argument,
    argument_named,
    node_inputs,
    op_name,
    tensor_operands,
)
from analyzer.passes.escapes import escaped_constants, escaped_literal_reads
from analyzer.passes.registry import (
    IDENTITY_OPS,
    STATISTIC_OPS,
    OpEntry,
    Rule,
    entry_for,
)
from analyzer.passes.transfer import (
    MATRIX_POWERS,
    SCATTER_PRODUCTS,
    Facts,
    attention_inputs,
    backward_operands,
    cdist_is_piecewise_linear,
    factor_groups,
    grid_mode,
    inverted_matrix,
    is_complex,
    is_training_batch_norm,
    multiplied_operands,
    multiplied_positions,
    named_node,
    operand_references,
    power_exponent,
    scatter_reduction,
)

SITE_KINDS = ("contraction", "gating", "normalization")


@dataclass(frozen=True, slots=True)
class Site:
    """One input-by-input multiplicative site (an entry of ``input_products``).

    ``operands`` are the graph nodes through which the multiplied values depend on the
    input (their witness paths end there). A fused op holds one site per product it
    performs, told apart by ``part`` (attention: ``scores`` = q·kᵀ, ``mix`` = weights·v);
    a value computed inside the fused op is named in ``names`` (``sdpa.weights``), and its
    operand is the node it is computed from.
    """

    node: fx.Node
    kind: str  # "contraction" | "gating" | "normalization"
    operands: tuple[fx.Node, ...]
    part: str | None = None
    names: tuple[str, ...] = ()

    @property
    def operand_names(self) -> list[str]:
        """What the JSON lists as ``operands``: node names, or a fused op's inner values."""
        return list(self.names) if self.names else [n.name for n in self.operands]


@dataclass(frozen=True, slots=True)
class Alignment:
    """Pointwise roots and statistics of the continuous nodes (see the module doc)."""

    root: dict[fx.Node, fx.Node]
    statistic_of: dict[fx.Node, fx.Node]
    escaped: dict[fx.Node, fx.Node] = field(default_factory=dict)  # see passes.escapes


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
    return Alignment(root, statistic_of, _escaped_reads(traced, facts))


def _escaped_reads(traced: TracedModel, facts: Facts) -> dict[fx.Node, fx.Node]:
    """For each op given a number after values left the graph, the latest continuous
    read before it (else the latest read): the value the number may be."""
    chosen = {}
    for node, reads in escaped_literal_reads(traced.graph).items():
        continuous = [r for r in reads if facts[r].is_continuous]
        chosen[node] = (continuous or reads)[-1]
    return chosen


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


def product_kind(node: fx.Node, facts: Facts, aligned: Alignment) -> str | None:
    """The kind of an elementwise product or quotient of continuous values:
    ``gating``/``normalization``, ``"pointwise"`` for a self-product such as
    ``x * sigmoid(x)``, ``None`` when fewer than two continuous values are multiplied.
    Other ops answer through :func:`node_sites`."""
    entry = entry_for(node)
    if entry is None or entry.rule not in (Rule.PRODUCT, Rule.DIVIDE):
        sites = node_sites(node, facts, aligned)
        return sites[0].kind if sites else None
    groups = [[n for n in g if facts[n].is_continuous] for g in factor_groups(node, entry)]
    if sum(1 for g in groups if g) < 2:
        return None
    continuous = [n for g in groups for n in g]
    roots = {aligned.root[n] for n in continuous if n not in aligned.statistic_of}
    stats = {aligned.statistic_of[n] for n in continuous if n in aligned.statistic_of}
    if stats and stats <= roots:
        return "normalization"
    # complex entries multiply real and imaginary parts: distinct entries of the source
    complex_values = any(is_complex(n) for n in continuous)
    if len(roots) == 1 and not stats and entry.pointwise and not complex_values:
        return "pointwise"
    return "gating"


def node_sites(node: fx.Node, facts: Facts, aligned: Alignment) -> list[Site]:
    """The input-by-input sites one node holds (several for a fused op, told apart by
    ``part``); empty when it multiplies fewer than two continuous values."""
    entry = entry_for(node)
    if not facts[node].is_continuous:
        return []
    if entry is None:  # an unknown op may multiply whatever it reads: worst case, a site
        operands = _continuous(facts, *tensor_operands(node))
        return [Site(node, "gating", tuple(operands), "unknown op")] if operands else []
    if entry.self_contraction:
        operands = _continuous(facts, *tensor_operands(node))
        exponent = power_exponent(node) if op_name(node) in MATRIX_POWERS else 2
        if operands and exponent not in (0, 1):  # A⁰ = I and A¹ = A multiply nothing
            return [Site(node, "contraction", (operands[0], operands[0]))]
        return []
    own = _own_sites(node, entry, facts, aligned)
    return own + _escaped_number_sites(node, entry, facts, aligned, bool(own))


def _escaped_number_sites(
    node: fx.Node, entry: OpEntry, facts: Facts, aligned: Alignment, has_own: bool
) -> list[Site]:
    """The product a number read out of the graph may make here, added to the op's own
    sites (never in their place): ``part`` tells it apart when the op has sites of its own.
    """
    read = aligned.escaped.get(node)
    if read is None or not facts[read].is_continuous:
        return []
    varying = _continuous(facts, *tensor_operands(node))
    # an op that multiplies by its numbers (mul, div, pow), or any op given a float the
    # read may have become (add's alpha, leaky_relu's slope, addcmul's value): sound
    if not varying or not (entry.rule in _MULTIPLYING or _takes_a_float(node)):
        return []
    names = (varying[0].name, f"{read.name} (a Python number here)")
    part = ESCAPED_PART if has_own else None
    return [Site(node, "gating", (varying[0], read), part, names)]


ESCAPED_PART = "escaped number"
"""The ``part`` of the site an escaped Python number adds to an op with sites of its own."""


def _own_sites(node: fx.Node, entry: OpEntry, facts: Facts, aligned: Alignment) -> list[Site]:
    """The sites of a known op from its own rule (continuous operands only)."""
    special = _SPECIAL_SITES.get(entry.rule)
    if special is not None:
        return special(node, entry, facts)
    if entry.rule in (Rule.PRODUCT, Rule.DIVIDE):
        kind = product_kind(node, facts, aligned)
        if kind is None or kind == "pointwise":
            return []
        return [
            Site(node, kind, _continuous_operands(node, multiplied_positions(node, entry), facts))
        ]
    if entry.rule is Rule.CONTRACTION or (entry.rule is Rule.SMOOTH and entry.multiplied):
        references = _continuous_references(node, entry.multiplied, facts)
        if len(references) < 2:
            return []
        kind = "contraction" if entry.rule is Rule.CONTRACTION else entry.site_kind
        return [Site(node, kind, _continuous_operands(node, entry.multiplied, facts))]
    return []


def _pow_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """x ** y with both varying is exp(y · log x): a product of the two. A complex power
    multiplies the real and imaginary parts of an entry: distinct entries of the tensor it
    was viewed from."""
    base = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    exponent_node = argument(node, 1, "exponent") if op_name(node) == "aten.pow" else None
    if isinstance(exponent_node, fx.Node):
        varying = _continuous(facts, base, exponent_node)
        if len(varying) == 2:
            return [Site(node, "gating", tuple(varying))]
    if base is None or not is_complex(base) or not facts[base].is_continuous:
        return []
    exponent = argument(node, 1, "exponent") if op_name(node) == "aten.pow" else 2
    if isinstance(exponent, (int, float)) and exponent in (0, 1):
        return []
    return [Site(node, "gating", (base,))]


def _takes_a_float(node: fx.Node) -> bool:
    """Whether a non-integer number is among the op's arguments: a scale, a slope, a
    weight (shapes, axes and counts are integers)."""

    def floats(values: Any) -> bool:
        if isinstance(values, (list, tuple)):
            return any(floats(v) for v in values)
        return isinstance(values, float)

    return floats(node.args) or floats(tuple(node.kwargs.values()))


_MULTIPLYING = frozenset({Rule.PRODUCT, Rule.DIVIDE, Rule.CONTRACTION, Rule.POW, Rule.LERP})


def input_products(
    traced: TracedModel, facts: Facts, aligned: Alignment | None = None
) -> list[Site]:
    """Every site of the graph: each node that multiplies two or more continuous values
    (or distinct entries of one), with its kind."""
    aligned = aligned or alignment(traced, facts)
    return [site for node in traced.op_nodes() for site in node_sites(node, facts, aligned)]


def _continuous_references(
    node: fx.Node, positions: tuple[int, ...], facts: Facts
) -> list[fx.Node]:
    return [n for n in operand_references(node, positions) if facts[n].is_continuous]


def _continuous_operands(
    node: fx.Node, positions: tuple[int, ...], facts: Facts
) -> tuple[fx.Node, ...]:
    return tuple(n for n in multiplied_operands(node, positions) if facts[n].is_continuous)


def _continuous(facts: Facts, *nodes: fx.Node | None) -> list[fx.Node]:
    return list(dict.fromkeys(n for n in nodes if n is not None and facts[n].is_continuous))


# --- sites of ops with their own algebra (see analyzer.passes.transfer) -------------------


def attention_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """The two contractions of a fused attention: ``scores`` = q·kᵀ when q and k are both
    continuous, ``mix`` = softmax(scores)·v when the weights and v are; a fused encoder
    layer adds its two layer norms."""
    inputs = attention_inputs(node)
    sites = []
    query, key, value = inputs.query, inputs.key, inputs.value
    if query is not None and key is not None:
        if facts[query].is_continuous and facts[key].is_continuous:
            sites.append(Site(node, "contraction", (query, key), "scores"))
    varying = _continuous(facts, *inputs.weights_from)
    if varying and value is not None and facts[value].is_continuous:
        names = (f"{node.name}.weights", value.name)
        sites.append(Site(node, "contraction", (varying[0], value), "mix", names))
    if "relu" in entry.implies and query is not None and facts[query].is_continuous:
        for part in ("norm1", "norm2"):
            sites.append(Site(node, "normalization", (query,), part))
    elif varying and not sites:
        # only the mask varies: the softmax still divides e^s by its own sum
        sites.append(Site(node, "normalization", (varying[0],), "softmax"))
    return sites


def _normalization_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """The normalisation itself, and the product of the normalised value with an affine
    weight that varies too (adaptive layer norm: ``layer_norm(x, w=1 + g(c))``), as the
    same function written out gets."""
    sites = [Site(node, "normalization", tuple(_continuous(facts, *tensor_operands(node))))]
    value = _continuous(facts, named_node(node, "input") or named_node(node, "self")
                        or named_node(node, "v"))  # fmt: skip
    weight = _continuous(facts, named_node(node, "weight") or named_node(node, "g"))
    if value and weight and weight[0] not in value:
        sites.append(Site(node, "gating", (value[0], weight[0]), "affine"))
    return sites


def _batch_norm_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if is_training_batch_norm(node):
        return _normalization_sites(node, entry, facts)
    value = _continuous(facts, named_node(node, "input"), named_node(node, "running_mean"))
    scale = _continuous(facts, named_node(node, "weight"), named_node(node, "running_var"))
    if value and scale:  # (x − mean) · weight / sqrt(var): eval mode with varying statistics
        return [Site(node, "gating", (value[0], scale[0]))]
    if len(scale) == 2:  # weight / sqrt(var) with both varying: a product of the two
        return [Site(node, "gating", (scale[0], scale[1]))]
    return []


def _recurrent_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if not entry.gating_site:
        return []
    return [Site(node, "gating", tuple(_continuous(facts, *tensor_operands(node))), "gates")]


def _where_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """A selection multiplies only when it selects a product (nll_loss: −w[t]·x[t])."""
    if not entry.factors:
        return []
    groups = [_continuous(facts, *group) for group in factor_groups(node, entry)]
    return [Site(node, "gating", tuple(g[0] for g in groups))] if all(groups) else []


def _lerp_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    weight = _continuous(facts, named_node(node, "weight"))
    ends = _continuous(facts, named_node(node, "self"), named_node(node, "end"))
    return [Site(node, "gating", (weight[0], ends[0]))] if weight and ends else []


def _prelu_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    value = _continuous(facts, named_node(node, "self"))
    slope = _continuous(facts, named_node(node, "weight"))
    return [Site(node, "gating", (value[0], slope[0]))] if value and slope else []


def _scatter_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if scatter_reduction(node) not in SCATTER_PRODUCTS:
        return []
    source = _continuous(facts, named_node(node, "src"), named_node(node, "source"))
    if not source:
        return []
    operands = _continuous(facts, named_node(node, "self"), *source)
    return [Site(node, "gating", tuple(operands))]  # entries landing on one place multiply


def _entry_product_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    source = _continuous(facts, *tensor_operands(node)[:1])
    return [Site(node, "gating", tuple(source))] if source else []


def _inverse_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    matrix = _continuous(facts, inverted_matrix(node))
    others = [n for n in _continuous(facts, *tensor_operands(node)) if n not in matrix]
    if matrix and others:  # A⁻¹·B: a contraction of two input-dependent values
        return [Site(node, "contraction", (matrix[0], others[0]))]
    return [Site(node, "gating", (matrix[0],))] if matrix else []


def _cdist_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if cdist_is_piecewise_linear(node):
        return []
    operands = _continuous(facts, *operand_references(node, (0, 1)))
    return [Site(node, "contraction", tuple(operands))] if len(operands) == 2 else []


def _grid_sample_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    operands = _continuous(facts, named_node(node, "input"), named_node(node, "grid"))
    if len(operands) < 2 or grid_mode(node) == "nearest":
        return []
    return [Site(node, "gating", tuple(operands))]


def _split_gate_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    return _entry_product_sites(node, entry, facts)


def _lookup_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """embedding_bag's per-sample weights multiply the rows it reads."""
    index_and_table = set(multiplied_operands(node, entry.selector)) | set(
        node_inputs(node.args[0] if node.args else None)
    )
    weights = [n for n in _continuous(facts, *tensor_operands(node)) if n not in index_and_table]
    if not weights:
        return []
    names = (f"{node.name}.rows", weights[0].name)
    return [Site(node, "gating", (weights[0], weights[0]), None, names)]


def _activation_backward_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """δ ⊙ f'(x) multiplies two input-dependent values unless f' is a step (ReLU)."""
    gradient, point = backward_operands(node)
    operands = _continuous(facts, gradient, point)
    sites = []
    if entry.derivative_degree != 0 and len(operands) >= 2:
        sites.append(Site(node, "gating", tuple(operands)))
    if op_name(node) in SOFTMAX_BACKWARDS and point is not None and facts[point].is_continuous:
        # y ⊙ (δ − Σ δ ⊙ y): the output times a sum of itself, even for a static δ
        sites.append(Site(node, "normalization", (point,), "softmax"))
    return sites


SOFTMAX_BACKWARDS = frozenset({"aten._softmax_backward_data"})


def _histogram_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """A density divides the weights by their sum and by a width set by the data."""
    if not argument_named(node, "density"):
        return []
    weight = _continuous(facts, named_node(node, "weight"))
    data = _continuous(facts, named_node(node, "self"))
    sites = [Site(node, "normalization", (weight[0],), "density")] if weight else []
    if weight and data:
        sites.append(Site(node, "gating", (weight[0], data[0]), "width"))
    return sites


def _covariance_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """(x − μ)(x − μ)ᵀ contracts x with itself; varying observation weights multiply x and
    divide by their own sum."""
    value = _continuous(facts, named_node(node, "self") or named_node(node, "input"))
    weights = _continuous(facts, named_node(node, "fweights"), named_node(node, "aweights"))
    sites = [Site(node, "contraction", (value[0], value[0]))] if value else []
    if weights:
        sites.append(Site(node, "normalization", (weights[0],), "weights"))
        if value:
            sites.append(Site(node, "gating", (value[0], weights[0]), "weighted"))
    return sites


def _conv_backward_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """The weight gradient δ ⋆ x, and the input gradient δ ⋆ W when W varies."""
    delta = _continuous(facts, named_node(node, "grad_output"))
    if not delta:
        return []
    sites = []
    for part, name in (("grad_weight", "input"), ("grad_input", "weight")):
        other = _continuous(facts, named_node(node, name))
        if other:
            sites.append(Site(node, "contraction", (delta[0], other[0]), part))
    return sites


def _attention_backward_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """∂L/∂v = Aᵀ·δ, ∂L/∂q = dS·k, ∂L/∂k = dSᵀ·q: contractions of δ with the inputs."""
    delta = _continuous(facts, named_node(node, "grad_out"))
    if not delta:
        return []
    inputs = attention_inputs(node)
    sites = []
    for part, other in (("grad_value", inputs.query), ("grad_query", inputs.key),
                        ("grad_key", inputs.query)):  # fmt: skip
        varying = _continuous(facts, other)
        if varying:
            sites.append(Site(node, "contraction", (delta[0], varying[0]), part))
    return sites


_SPECIAL_SITES = {
    Rule.ATTENTION: attention_sites,
    Rule.NORMALIZATION: _normalization_sites,
    Rule.BATCH_NORM: _batch_norm_sites,
    Rule.RECURRENT: _recurrent_sites,
    Rule.LERP: _lerp_sites,
    Rule.WHERE: _where_sites,
    Rule.PRELU: _prelu_sites,
    Rule.SCATTER: _scatter_sites,
    Rule.ENTRY_PRODUCT: _entry_product_sites,
    Rule.INVERSE: _inverse_sites,
    Rule.CDIST: _cdist_sites,
    Rule.GRID_SAMPLE: _grid_sample_sites,
    Rule.SPLIT_GATE: _split_gate_sites,
    Rule.COVARIANCE: _covariance_sites,
    Rule.HISTOGRAM: _histogram_sites,
    Rule.LOOKUP: _lookup_sites,
    Rule.POW: _pow_sites,
    Rule.ACTIVATION_BACKWARD: _activation_backward_sites,
    Rule.CONV_BACKWARD: _conv_backward_sites,
    Rule.ATTENTION_BACKWARD: _attention_backward_sites,
}


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
