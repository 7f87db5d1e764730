"""The primitive class of every op node, and the model's primitive set.

Most ops have one class in the registry; a few depend on the facts: a transpose is
``transpose`` only on a continuous value, a product of two continuous values is
``gating``/``normalization`` (or ``nonlinearity`` for ``x * sigmoid(x)``), a selection
is ``sparsity`` only when its condition or indices are not static.

>>> import torch
>>> from analyzer import analyze
>>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
>>> analyze(net, (torch.randn(1, 4),)).circuit_class
['matmul', 'relu']
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import argument_named, op_name, tensor_operands
from analyzer.passes.alignment import Alignment
from analyzer.passes.facts import Dependence, Facts
from analyzer.passes.op_arguments import (
    cdist_is_piecewise_linear,
    is_training_batch_norm,
    norm_is_piecewise_linear,
    reinterprets_bits,
)
from analyzer.passes.operands import multiplied_operands, named_node
from analyzer.passes.registry import CIRCUIT_CLASSES, TRANSPOSE_OPS, OpEntry, Rule
from analyzer.passes.registry_lookup import entry_for
from analyzer.passes.sites import node_sites, product_kind
from analyzer.passes.transposes import DynamicTranspose


def primitive_class(node: fx.Node, facts: Facts, aligned: Alignment) -> str:
    """The class of one op node (see the table in docs/concepts.md)."""
    entry = entry_for(node)
    if entry is None:
        return "unknown"
    operands = tensor_operands(node)
    if op_name(node) in TRANSPOSE_OPS:
        source = node.args[0]
        continuous = isinstance(source, fx.Node) and facts[source].is_continuous
        return "transpose" if continuous else "structural"
    rule = entry.rule
    if rule in (Rule.PRODUCT, Rule.DIVIDE):
        return _product_class(node, entry, facts, aligned, operands)
    if rule in _SITE_CLASSED:
        sites = node_sites(node, facts, aligned)
        if sites:
            return SITE_CLASS[sites[0].kind]
        return _SITE_CLASSED[rule](node, entry, facts)
    if rule in (Rule.WHERE, Rule.LOOKUP):
        return _selection_class(node, entry, facts, operands)
    if rule is Rule.BITCAST:
        return "nonlinearity" if reinterprets_bits(node) else "structural"
    if rule is Rule.COMPARE and facts[node].is_continuous:
        return "nonlinearity"  # a mask applied to a float's bits, the sign of a complex
    if rule is Rule.COMPARE:
        return "sparsity" if facts[node].dependence is not Dependence.STATIC else "elementwise"
    if rule is Rule.SELECT_TOP:
        if facts[node].dependence is Dependence.STATIC:
            return "structural"
        return "sparsity" if _indices_used(node) else "relu"
    return entry.primitive


SITE_CLASS = {"contraction": "matmul", "gating": "gating", "normalization": "normalization"}
"""The class of a node that is a site of each kind."""


def _selection_class(node: fx.Node, entry: OpEntry, facts: Facts, operands: list[fx.Node]) -> str:
    selector = multiplied_operands(node, entry.selector)
    data = [n for n in operands if n not in selector]
    selective = any(facts[n].dependence is not Dependence.STATIC for n in selector)
    if entry.rule is Rule.LOOKUP and all(facts[n].dependence is Dependence.STATIC for n in data):
        return "structural"  # an embedding: a continuous source, not a selection
    return "sparsity" if selective else "structural"


def _batch_norm_class(node: fx.Node, entry: OpEntry, facts: Facts) -> str:
    if is_training_batch_norm(node):
        return "normalization"
    variance = named_node(node, "running_var")
    return (
        "nonlinearity" if variance is not None and facts[variance].is_continuous else "elementwise"
    )


def _fixed(primitive: str):
    return lambda node, entry, facts: primitive


# Rules whose node is classed by its site when it has one, else by these functions.
_SITE_CLASSED = {
    Rule.NORMALIZATION: _fixed("normalization"),
    Rule.BATCH_NORM: _batch_norm_class,
    Rule.LERP: _fixed("elementwise"),
    Rule.PRELU: _fixed("relu"),
    Rule.SCATTER: lambda node, entry, facts: _selection_class(
        node, entry, facts, tensor_operands(node)
    ),
    Rule.ENTRY_PRODUCT: _fixed("reduction"),
    Rule.INVERSE: _fixed("nonlinearity"),
    Rule.SPLIT_GATE: _fixed("nonlinearity"),
    Rule.CDIST: lambda node, entry, facts: (
        "relu" if cdist_is_piecewise_linear(node) else "nonlinearity"
    ),
    Rule.GRID_SAMPLE: lambda node, entry, facts: _selection_class(
        node, entry, facts, tensor_operands(node)
    ),
    Rule.NORM: lambda node, entry, facts: (
        "relu" if norm_is_piecewise_linear(node) else "nonlinearity"
    ),
    Rule.RECURRENT: lambda node, entry, facts: entry.primitive,
    Rule.ATTENTION: lambda node, entry, facts: entry.primitive,
    Rule.CONTRACTION: lambda node, entry, facts: entry.primitive,
    Rule.SMOOTH: lambda node, entry, facts: entry.primitive,
    Rule.ACTIVATION_BACKWARD: lambda node, entry, facts: (
        "relu" if entry.derivative_degree == 0 else "nonlinearity"
    ),
    Rule.CONV_BACKWARD: lambda node, entry, facts: entry.primitive,
    Rule.ATTENTION_BACKWARD: lambda node, entry, facts: entry.primitive,
}


def _product_class(
    node: fx.Node, entry: OpEntry, facts: Facts, aligned: Alignment, operands: list[fx.Node]
) -> str:
    kind = product_kind(node, facts, aligned)
    if kind in ("gating", "normalization"):
        return kind
    if kind == "pointwise":
        return "nonlinearity"
    dependences = {facts[n].dependence for n in operands}
    if Dependence.CONTINUOUS in dependences and Dependence.DISCRETE in dependences:
        return "relu"  # z * (z > 0): a piecewise gate
    if entry.rule is Rule.DIVIDE:
        divisor = multiplied_operands(node, (entry.divisor,))
        if any(facts[n].is_continuous for n in divisor):
            return "nonlinearity"  # c / x
    return "elementwise"


def implied_classes(node: fx.Node, entry: OpEntry) -> frozenset[str]:
    """The classes a fused op contains besides its own (its MLP's activation, say)."""
    if op_name(node) == "aten._transformer_encoder_layer_fwd":
        activation = "nonlinearity" if argument_named(node, "use_gelu") else "relu"
        return frozenset({"normalization", activation})
    return entry.implies


def _indices_used(node: fx.Node) -> bool:
    """Whether anything reads the indices (output 1) of a values-and-indices op."""
    if not isinstance(node.meta.get("val"), (tuple, list)) and node.meta.get("outputs", 1) < 2:
        return True  # sort/max returning one tensor: the selection itself
    return any(
        op_name(user) == "operator.getitem" and user.args[1] == 1 and user.users
        for user in node.users
    )


def circuit_class(
    classes: dict[fx.Node, str],
    facts: Facts,
    transposes: list[DynamicTranspose],
) -> list[str]:
    """The sorted primitive set: classes of the nodes on the input's path, the classes
    fused ops imply, and ``transpose`` only when a dynamic transpose feeds a contraction."""
    present: set[str] = set()
    for node, cls in classes.items():
        dependence = facts[node].dependence
        on_path = dependence is Dependence.CONTINUOUS or (
            cls == "sparsity" and dependence is not Dependence.STATIC
        )
        if not on_path:
            continue  # weight preprocessing, mask building: not part of the circuit
        present.add(cls)
        entry = entry_for(node)
        if entry is not None:
            present.update(implied_classes(node, entry))
    present.discard("transpose")
    if any(t.feeds_contraction for t in transposes):
        present.add("transpose")
    return sorted(present & CIRCUIT_CLASSES)
