"""The sites of op families with an algebra of their own (their transfer functions are
in :mod:`analyzer.passes.transfer_families`): the contractions of a fused attention, a
normalisation and its affine weight, gates of recurrent cells, selections of products,
lerp and prelu weights, scatter products, inverses, distances, grid sampling, density
histograms, weighted covariances, and the gradients of activations, convolutions and
attention.

Each function has the signature ``(node, entry, facts) -> list[Site]`` and reads
continuous operands only; :data:`FAMILY_SITES` maps a rule to its function.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> from analyzer.passes.registry_lookup import entry_for
>>> class Attend(torch.nn.Module):
...     def forward(self, q, k, v):
...         return torch.nn.functional.scaled_dot_product_attention(q, k, v)
>>> traced = trace(Attend(), tuple(torch.randn(1, 2, 3, 4) for _ in range(3)))
>>> node = next(n for n in traced.op_nodes() if "attention" in str(n.target))
>>> [s.part for s in attention_sites(node, entry_for(node), node_facts(traced))]
['scores', 'mix']
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import (
    argument,
    argument_named,
    node_inputs,
    op_name,
    tensor_operands,
)
from analyzer.passes.facts import Facts, Site
from analyzer.passes.op_arguments import (
    SCATTER_PRODUCTS,
    SOFTMAX_BACKWARDS,
    attention_inputs,
    backward_operands,
    cdist_is_piecewise_linear,
    grid_mode,
    inverted_matrix,
    is_training_batch_norm,
    scatter_reduction,
)
from analyzer.passes.operands import (
    continuous,
    continuous_operands,
    factor_groups,
    is_complex,
    multiplied_operands,
    named_node,
    operand_references,
)
from analyzer.passes.registry import OpEntry, Rule


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
    varying = continuous(facts, *inputs.weights_from)
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
    sites = [Site(node, "normalization", tuple(continuous(facts, *tensor_operands(node))))]
    value = continuous(facts, named_node(node, "input") or named_node(node, "self")
                        or named_node(node, "v"))  # fmt: skip
    weight = continuous(facts, named_node(node, "weight") or named_node(node, "g"))
    if value and weight and weight[0] not in value:
        sites.append(Site(node, "gating", (value[0], weight[0]), "affine"))
    elif entry.multiplied:  # cross_entropy: the scores times varying targets or weights
        varying = continuous_operands(node, entry.multiplied, facts)
        if len(varying) >= 2:
            sites.append(Site(node, "gating", varying[:2], "weighted"))
    return sites


def _batch_norm_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if is_training_batch_norm(node):
        return _normalization_sites(node, entry, facts)
    value = continuous(facts, named_node(node, "input"), named_node(node, "running_mean"))
    scale = continuous(facts, named_node(node, "weight"), named_node(node, "running_var"))
    if value and scale:  # (x − mean) · weight / sqrt(var): eval mode with varying statistics
        return [Site(node, "gating", (value[0], scale[0]))]
    if len(scale) == 2:  # weight / sqrt(var) with both varying: a product of the two
        return [Site(node, "gating", (scale[0], scale[1]))]
    return []


def _recurrent_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if not entry.gating_site:
        return []
    return [Site(node, "gating", tuple(continuous(facts, *tensor_operands(node))), "gates")]


def _where_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """A selection multiplies only when it selects a product (nll_loss: −w[t]·x[t])."""
    if not entry.factors:
        return []
    groups = [continuous(facts, *group) for group in factor_groups(node, entry)]
    return [Site(node, "gating", tuple(g[0] for g in groups))] if all(groups) else []


def _lerp_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    weight = continuous(facts, named_node(node, "weight"))
    ends = continuous(facts, named_node(node, "self"), named_node(node, "end"))
    return [Site(node, "gating", (weight[0], ends[0]))] if weight and ends else []


def _prelu_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    value = continuous(facts, named_node(node, "self"))
    slope = continuous(facts, named_node(node, "weight"))
    return [Site(node, "gating", (value[0], slope[0]))] if value and slope else []


def _scatter_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if scatter_reduction(node) not in SCATTER_PRODUCTS:
        return []
    source = continuous(facts, named_node(node, "src"), named_node(node, "source"))
    if not source:
        return []
    operands = continuous(facts, named_node(node, "self"), *source)
    return [Site(node, "gating", tuple(operands))]  # entries landing on one place multiply


def _entry_product_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    source = continuous(facts, *tensor_operands(node)[:1])
    return [Site(node, "gating", tuple(source))] if source else []


def _inverse_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    matrix = continuous(facts, inverted_matrix(node))
    others = [n for n in continuous(facts, *tensor_operands(node)) if n not in matrix]
    if matrix and others:  # A⁻¹·B: a contraction of two input-dependent values
        return [Site(node, "contraction", (matrix[0], others[0]))]
    return [Site(node, "gating", (matrix[0],))] if matrix else []


def _cdist_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    if cdist_is_piecewise_linear(node):
        return []
    operands = continuous(facts, *operand_references(node, (0, 1)))
    return [Site(node, "contraction", tuple(operands))] if len(operands) == 2 else []


def _grid_sample_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    operands = continuous(facts, named_node(node, "input"), named_node(node, "grid"))
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
    weights = [n for n in continuous(facts, *tensor_operands(node)) if n not in index_and_table]
    if not weights:
        return []
    names = (f"{node.name}.rows", weights[0].name)
    return [Site(node, "gating", (weights[0], weights[0]), None, names)]


def _pow_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """x ** y with both varying is exp(y · log x): a product of the two. A complex power
    multiplies the real and imaginary parts of an entry: distinct entries of the tensor it
    was viewed from."""
    base = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
    exponent_node = argument(node, 1, "exponent") if op_name(node) == "aten.pow" else None
    if isinstance(exponent_node, fx.Node):
        varying = continuous(facts, base, exponent_node)
        if len(varying) == 2:
            return [Site(node, "gating", tuple(varying))]
    if base is None or not is_complex(base) or not facts[base].is_continuous:
        return []
    exponent = argument(node, 1, "exponent") if op_name(node) == "aten.pow" else 2
    if isinstance(exponent, (int, float)) and exponent in (0, 1):
        return []
    return [Site(node, "gating", (base,))]


def _activation_backward_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """δ ⊙ f'(x) multiplies two input-dependent values unless f' is a step (ReLU)."""
    gradient, point = backward_operands(node)
    operands = continuous(facts, gradient, point)
    sites = []
    if entry.derivative_degree != 0 and len(operands) >= 2:
        sites.append(Site(node, "gating", tuple(operands)))
    if op_name(node) in SOFTMAX_BACKWARDS and point is not None and facts[point].is_continuous:
        # y ⊙ (δ − Σ δ ⊙ y): the output times a sum of itself, even for a static δ
        sites.append(Site(node, "normalization", (point,), "softmax"))
    return sites


def _histogram_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """A density divides the weights by their sum and by a width set by the data."""
    if not argument_named(node, "density"):
        return []
    weight = continuous(facts, named_node(node, "weight"))
    # the bin width comes from the bin edges when they are a tensor, else the data's range
    width = [n for n in continuous(facts, *tensor_operands(node)) if n not in weight]
    sites = [Site(node, "normalization", (weight[0],), "density")] if weight else []
    if weight and width:
        sites.append(Site(node, "gating", (weight[0], width[0]), "width"))
    return sites


def _covariance_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """(x − μ)(x − μ)ᵀ contracts x with itself; varying observation weights multiply x and
    divide by their own sum."""
    value = continuous(facts, named_node(node, "self") or named_node(node, "input"))
    weights = continuous(facts, named_node(node, "fweights"), named_node(node, "aweights"))
    sites = [Site(node, "contraction", (value[0], value[0]))] if value else []
    if weights:
        sites.append(Site(node, "normalization", (weights[0],), "weights"))
        if value:
            sites.append(Site(node, "gating", (value[0], weights[0]), "weighted"))
    return sites


def _conv_backward_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """The weight gradient δ ⋆ x, and the input gradient δ ⋆ W when W varies."""
    delta = continuous(facts, named_node(node, "grad_output"))
    if not delta:
        return []
    sites = []
    for part, name in (("grad_weight", "input"), ("grad_input", "weight")):
        other = continuous(facts, named_node(node, name))
        if other:
            sites.append(Site(node, "contraction", (delta[0], other[0]), part))
    return sites


def _attention_backward_sites(node: fx.Node, entry: OpEntry, facts: Facts) -> list[Site]:
    """∂L/∂v = Aᵀ·δ, ∂L/∂q = dS·k, ∂L/∂k = dSᵀ·q: contractions of δ with the inputs."""
    delta = continuous(facts, named_node(node, "grad_out"))
    if not delta:
        return []
    inputs = attention_inputs(node)
    sites = []
    for part, other in (("grad_value", inputs.query), ("grad_query", inputs.key),
                        ("grad_key", inputs.query)):  # fmt: skip
        varying = continuous(facts, other)
        if varying:
            sites.append(Site(node, "contraction", (delta[0], varying[0]), part))
    return sites


FAMILY_SITES = {
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
