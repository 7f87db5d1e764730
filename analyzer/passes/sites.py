"""Input-by-input multiplicative sites: the nodes that multiply two or more
``continuous`` operands (docs/concepts.md), each with its kind.

A product's kind comes from the pointwise roots and statistics of its operands
(:mod:`analyzer.passes.alignment`): ``h * sigmoid(h)`` is a pointwise nonlinearity, not a
site; ``h * rsqrt(mean(h²))`` is a ``normalization`` site; other products of two
continuous values are ``gating`` sites and contractions are ``contraction`` sites. Op
families with their own algebra answer through :mod:`analyzer.passes.family_sites`.
A number read out of the graph adds a site to the op it may have reached, never
replacing the op's own.

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

from typing import Any

import torch.fx as fx

from analyzer.frontend.dialect import TracedModel, op_name, tensor_operands
from analyzer.passes.alignment import Alignment, alignment
from analyzer.passes.facts import Facts, Site
from analyzer.passes.family_sites import FAMILY_SITES
from analyzer.passes.op_arguments import MATRIX_POWERS, power_exponent
from analyzer.passes.operands import (
    continuous,
    continuous_operands,
    continuous_references,
    factor_groups,
    is_complex,
    multiplied_positions,
)
from analyzer.passes.registry import OpEntry, Rule
from analyzer.passes.registry_lookup import entry_for

ESCAPED_PART = "escaped number"
"""The ``part`` of the site an escaped Python number adds to an op with sites of its own."""


def _read_into(constant: fx.Node, reads: tuple[fx.Node, ...]) -> tuple[str, ...]:
    return tuple(f"{r.name} (in {constant.name}, made outside torch)" for r in reads)


ESCAPED_VALUES_PART = "escaped values"
"""The ``part`` of the site a constant made outside torch adds to an op with other sites."""

_MULTIPLYING = frozenset({Rule.PRODUCT, Rule.DIVIDE, Rule.CONTRACTION, Rule.POW, Rule.LERP})


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
    if not facts[node].is_continuous:
        return []
    sites = _sites_of_the_op(node, facts, aligned)
    return sites + _escaped_constant_sites(node, aligned, bool(sites))


def _sites_of_the_op(node: fx.Node, facts: Facts, aligned: Alignment) -> list[Site]:
    entry = entry_for(node)
    if entry is None:  # an unknown op may multiply whatever it reads: worst case, a site
        operands = continuous(facts, *tensor_operands(node))
        return [Site(node, "gating", tuple(operands), "unknown op")] if operands else []
    if entry.self_contraction:
        operands = continuous(facts, *tensor_operands(node))
        exponent = power_exponent(node) if op_name(node) in MATRIX_POWERS else 2
        if operands and exponent not in (0, 1):  # A⁰ = I and A¹ = A multiply nothing
            return [Site(node, "contraction", (operands[0], operands[0]))]
        return []
    own = _own_sites(node, entry, facts, aligned)
    return own + _escaped_number_sites(node, entry, facts, aligned, bool(own))


def _escaped_constant_sites(node: fx.Node, aligned: Alignment, has_others: bool) -> list[Site]:
    """The products a constant made outside torch from values read out of the graph may
    hold (``x.numpy() @ y.numpy()``, ``a @ a.T``): one site where an op reads it, its
    operands the reads (one read may be multiplied by itself), added to the op's own."""
    sites = []
    for constant in tensor_operands(node):
        reads = aligned.made_of.get(constant)
        if reads is None:
            continue
        names = _read_into(constant, reads)
        part = ESCAPED_VALUES_PART if has_others or sites else None
        sites.append(Site(node, "gating", reads, part, names))
    return sites


def _escaped_number_sites(
    node: fx.Node, entry: OpEntry, facts: Facts, aligned: Alignment, has_own: bool
) -> list[Site]:
    """The product a number read out of the graph may make here, added to the op's own
    sites (never in their place): ``part`` tells it apart when the op has sites of its own.
    """
    read = aligned.escaped.get(node)
    if read is None or not facts[read].is_continuous:
        return []
    varying = continuous(facts, *tensor_operands(node))
    # an op that multiplies by its numbers (mul, div, pow), or any op given a float the
    # read may have become (add's alpha, leaky_relu's slope, addcmul's value): sound
    if not varying or not (entry.rule in _MULTIPLYING or _takes_a_float(node)):
        return []
    names = (varying[0].name, f"{read.name} (a Python number here)")
    part = ESCAPED_PART if has_own else None
    return [Site(node, "gating", (varying[0], read), part, names)]


def _own_sites(node: fx.Node, entry: OpEntry, facts: Facts, aligned: Alignment) -> list[Site]:
    """The sites of a known op from its own rule (continuous operands only)."""
    special = FAMILY_SITES.get(entry.rule)
    if special is not None:
        return special(node, entry, facts)
    if entry.rule in (Rule.PRODUCT, Rule.DIVIDE):
        kind = product_kind(node, facts, aligned)
        if kind is None or kind == "pointwise":
            return []
        return [
            Site(node, kind, continuous_operands(node, multiplied_positions(node, entry), facts))
        ]
    if entry.rule is Rule.CONTRACTION or (entry.rule is Rule.SMOOTH and entry.multiplied):
        references = continuous_references(node, entry.multiplied, facts)
        if len(references) < 2:
            return []
        kind = "contraction" if entry.rule is Rule.CONTRACTION else entry.site_kind
        return [Site(node, kind, continuous_operands(node, entry.multiplied, facts))]
    return []


def _takes_a_float(node: fx.Node) -> bool:
    """Whether a non-integer number is among the op's arguments: a scale, a slope, a
    weight (shapes, axes and counts are integers)."""

    def floats(values: Any) -> bool:
        if isinstance(values, (list, tuple)):
            return any(floats(v) for v in values)
        return isinstance(values, float)

    return floats(node.args) or floats(tuple(node.kwargs.values()))


def input_products(
    traced: TracedModel, facts: Facts, aligned: Alignment | None = None
) -> list[Site]:
    """Every site of the graph: each node that multiplies two or more continuous values
    (or distinct entries of one), with its kind."""
    aligned = aligned or alignment(traced, facts)
    sites = [site for node in traced.op_nodes() for site in node_sites(node, facts, aligned)]
    read_by_an_op = {site.node for site in sites} | {
        n for node in traced.op_nodes() for n in tensor_operands(node)
    }
    # a constant made outside torch and returned as it is holds its products itself
    for constant, reads in aligned.made_of.items():
        if constant not in read_by_an_op:
            names = _read_into(constant, reads)
            sites.append(Site(constant, "gating", reads, None, names))
    return sites
