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

from dataclasses import dataclass

import torch.fx as fx

from analyzer.frontend.dialect import TracedModel, op_name, tensor_operands
from analyzer.passes.dataflow import (
    Facts,
    attention_inputs,
    is_training_batch_norm,
    multiplied_operands,
    multiplied_positions,
    operand_references,
)
from analyzer.passes.registry import IDENTITY_OPS, STATISTIC_OPS, TRANSPOSE_OPS, Rule, entry_for

SITE_KINDS = ("contraction", "gating", "normalization")
_MULTIPLYING_RULES = (Rule.CONTRACTION, Rule.PRODUCT, Rule.DIVIDE)


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
class DynamicTranspose:
    """A transpose of a continuous value, explicit or implied by a fused op."""

    node: fx.Node
    implied: bool
    feeds_contraction: bool


@dataclass(frozen=True, slots=True)
class Alignment:
    """Pointwise roots and statistics of the continuous nodes (see the module doc)."""

    root: dict[fx.Node, fx.Node]
    statistic_of: dict[fx.Node, fx.Node]


def alignment(traced: TracedModel, facts: Facts) -> Alignment:
    """Roots and statistics of every continuous node, in one forward sweep."""
    root: dict[fx.Node, fx.Node] = {}
    statistic_of: dict[fx.Node, fx.Node] = {}
    for node in traced.graph.nodes:
        if not facts[node].is_continuous or node.op == "output":
            continue
        root[node] = node
        if not node.op.startswith("call_"):
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
    return Alignment(root, statistic_of)


def product_kind(node: fx.Node, facts: Facts, aligned: Alignment) -> str | None:
    """``contraction``/``gating``/``normalization`` for a site, ``"pointwise"`` for a
    self-product such as ``x * sigmoid(x)``, ``None`` when fewer than two continuous
    values are multiplied."""
    entry = entry_for(node)
    if entry is None:
        return None
    if entry.rule is Rule.NORMALIZATION or (
        entry.rule is Rule.BATCH_NORM and is_training_batch_norm(node)
    ):
        return "normalization" if facts[node].is_continuous else None
    if entry.rule is Rule.ATTENTION:
        return "contraction" if attention_sites(node, facts) else None
    if entry.rule is Rule.RECURRENT:
        return "gating" if entry.gating_site and facts[node].is_continuous else None
    if entry.rule not in _MULTIPLYING_RULES:
        return None
    positions = multiplied_positions(node, entry)
    continuous = [n for n in operand_references(node, positions) if facts[n].is_continuous]
    if len(continuous) < 2:
        return None
    if entry.rule is Rule.CONTRACTION:
        return "contraction"
    roots = {aligned.root[n] for n in continuous if n not in aligned.statistic_of}
    stats = {aligned.statistic_of[n] for n in continuous if n in aligned.statistic_of}
    if stats and stats <= roots:
        return "normalization"
    if len(roots) == 1 and not stats:
        return "pointwise"
    return "gating"


def input_products(
    traced: TracedModel, facts: Facts, aligned: Alignment | None = None
) -> list[Site]:
    """Every node that multiplies two or more continuous values, with its kind."""
    aligned = aligned or alignment(traced, facts)
    sites = []
    for node in traced.op_nodes():
        kind = product_kind(node, facts, aligned)
        if kind is None or kind == "pointwise":
            continue
        entry = entry_for(node)
        assert entry is not None  # product_kind found a site
        if entry.rule is Rule.ATTENTION:
            sites.extend(attention_sites(node, facts))
            continue
        candidates = (
            multiplied_operands(node, multiplied_positions(node, entry))
            if entry.rule in _MULTIPLYING_RULES
            else tensor_operands(node)
        )
        operands = tuple(n for n in candidates if facts[n].is_continuous)
        part = "gates" if entry.rule is Rule.RECURRENT else None
        sites.append(Site(node, kind, operands, part))
    return sites


def attention_sites(node: fx.Node, facts: Facts) -> list[Site]:
    """The two contractions of a fused attention: ``scores`` = q·kᵀ when q and k are both
    continuous, ``mix`` = softmax(scores)·v when the weights and v are."""
    inputs = attention_inputs(node)
    sites = []
    query, key, value = inputs.query, inputs.key, inputs.value
    if query is not None and key is not None:
        if facts[query].is_continuous and facts[key].is_continuous:
            sites.append(Site(node, "contraction", (query, key), "scores"))
    varying = [n for n in inputs.weights_from if facts[n].is_continuous]
    if varying and value is not None and facts[value].is_continuous:
        names = (f"{node.name}.weights", value.name)
        sites.append(Site(node, "contraction", (varying[0], value), "mix", names))
    return sites


def witness_parents(traced: TracedModel, facts: Facts) -> dict[fx.Node, fx.Node | None]:
    """For each continuous node, its predecessor on a shortest path from a continuous
    source (``None`` at a source: a float input or a lookup by token ids)."""
    distance: dict[fx.Node, int] = {}
    parent: dict[fx.Node, fx.Node | None] = {}
    for node in traced.graph.nodes:
        if not facts[node].is_continuous or node.op == "output":
            continue
        reached = [n for n in tensor_operands(node) if n in distance]
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


def dynamic_transposes(
    traced: TracedModel, facts: Facts, sites: list[Site]
) -> list[DynamicTranspose]:
    """Transposes of continuous values, and whether each reaches a contraction site's
    operand through structural ops only."""
    contraction_operands = {n for s in sites if s.kind == "contraction" for n in s.operands}
    scores = {s.node for s in sites if s.part == "scores"}
    contraction_nodes = {s.node for s in sites if s.kind == "contraction"}
    feeds: set[fx.Node] = set()
    for node in reversed(traced.graph.nodes):  # users come after their operands
        if node in contraction_operands:
            feeds.add(node)
        elif any(u in feeds and _is_structural(u) for u in node.users):
            feeds.add(node)
    found = []
    for node in traced.op_nodes():
        if op_name(node) in TRANSPOSE_OPS:
            source = node.args[0]
            if isinstance(source, fx.Node) and facts[source].is_continuous:
                found.append(DynamicTranspose(node, False, node in feeds))
            continue
        entry = entry_for(node)
        if entry is None or entry.transposes is None:
            continue
        transposed = multiplied_operands(node, (entry.transposes,))
        if any(facts[n].is_continuous for n in transposed):
            feeding = scores if entry.rule is Rule.ATTENTION else contraction_nodes
            found.append(DynamicTranspose(node, True, node in feeding))
    return found


def _is_structural(node: fx.Node) -> bool:
    entry = entry_for(node)
    return entry is not None and entry.rule is Rule.STRUCTURAL
