"""The expansion rules' registry: what a rule receives (:class:`Context`), values
with no exact value (:class:`Withheld`), the table :data:`RULES` and the helpers every
family of rules shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch.fx as fx

from analyzer.frontend.dialect import op_name
from analyzer.symbolic.exact import (
    Entry,
    Rat,
    Ring,
    constant,
    mul,
)
from analyzer.symbolic.tensors import (
    Budget,
    SymTensor,
    origins_of,
)


@dataclass
class Context:
    """What a rule needs besides its arguments."""

    ring: Ring
    budget: Budget
    node: fx.Node

    def const(self, value: Any) -> Rat:
        return constant(value, self.ring)


@dataclass(frozen=True)
class Withheld:
    """An output that has no exact value (the positions a max pooling or ``max(dim)``
    selects): any op that reads it is refused with ``reason``."""

    reason: str


RuleFunction = Callable[[Context, tuple[Any, ...], dict[str, Any]], Any]
RULES: dict[str, RuleFunction] = {}


def rule(*names: str) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule under every op name; twice is an error."""

    def register(function: RuleFunction) -> RuleFunction:
        for name in names:
            if name in RULES:
                raise ValueError(f"op {name!r} has two expansion rules")
            RULES[name] = function
        return function

    return register


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str, default: Any):
    if position < len(args):
        return args[position]
    return kwargs.get(name, default)


def _scale(context: Context, value: Entry, factor: Any) -> Entry:
    if factor == 1:
        return value
    return mul(value, context.const(factor))


def _charge_products(context: Context, a: SymTensor, b: SymTensor) -> None:
    """Elementwise products of polynomials cost the product of their term counts."""
    widest = max((len(e) for e in a.entries if isinstance(e, Rat)), default=1)
    other = max((len(e) for e in b.entries if isinstance(e, Rat)), default=1)
    if widest > 1 and other > 1:
        count = max(a.numel, b.numel)
        context.budget.charge(count * widest * other, f"{context.node.name} (a product)")


def non_polynomial_origin(node: fx.Node, operands: list[Any], result: Any) -> frozenset[str]:
    """The nodes that made some entry non-polynomial: this one, when its symbolic
    operands were polynomial and its result is not."""
    before = origins_of(*operands)
    results = result if isinstance(result, (list, tuple)) else [result]
    made = any(isinstance(r, SymTensor) and not r.polynomial for r in results) and all(
        o.polynomial for o in operands if isinstance(o, SymTensor)
    )
    return before | ({f"{node.name} ({op_name(node)})"} if made else frozenset())
