"""The transfer functions: how each :class:`~analyzer.passes.registry.Rule` turns the
facts of an op's operands into the fact of its result (docs/concepts.md's degree rules).

The table :data:`RULES` gathers the rules most ops share
(:mod:`analyzer.passes.transfer_core`) and those of op families with their own algebra
(:mod:`analyzer.passes.transfer_families`). It is complete: a rule without a transfer
is an error. An op whose own function has kinks (``entry.kinked``) makes its result
piecewise whatever its rule says.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> class Huber(torch.nn.Module):
...     def forward(self, x):
...         return torch.nn.functional.huber_loss(x, torch.zeros_like(x))
>>> traced = trace(Huber(), (torch.randn(3),))
>>> node_facts(traced)[traced.output_node].piecewise
True
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.passes.facts import Dependence, Fact, Facts
from analyzer.passes.registry import OpEntry, Rule
from analyzer.passes.transfer_core import CORE_RULES, Transfer
from analyzer.passes.transfer_families import FAMILY_RULES

assert not set(CORE_RULES) & set(FAMILY_RULES), "a rule has two transfer functions"
assert set(CORE_RULES) | set(FAMILY_RULES) == set(Rule) - {Rule.UNKNOWN}, (
    "every rule needs a transfer function"
)


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


RULES: dict[Rule, Transfer] = {
    rule: _honouring_kinks(transfer) for rule, transfer in {**CORE_RULES, **FAMILY_RULES}.items()
}
