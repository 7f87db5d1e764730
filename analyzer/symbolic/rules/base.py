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
    size,
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


SYMPY_TERM_COST = 200
"""What turning one polynomial term into a sympy expression (and letting sympy walk it:
``exp``, ``tanh``, a softmax's sum) costs, counted in polynomial term products, the unit
of ``--max-terms``: about 200 to 600 µs against about 1 µs (measured on the transformer
block's attention scores)."""


def _terms(entries: list[Entry], memo: dict) -> int:
    """Terms of the entries that depend on the input (constants cost nothing here: a
    smooth function of a constant is a constant again)."""
    return sum(size(e, memo) for e in entries if not (isinstance(e, Rat) and e.is_constant))


def _charge_sympy(context: Context, terms: int, kind: str) -> None:
    """Refuse before sympy builds a smooth function of ``terms`` polynomial terms when that
    work is past the limit: the size check after the op would come minutes later."""
    context.budget.charge(
        SYMPY_TERM_COST * terms,
        f"{context.node.name} ({op_name(context.node)}, {kind}) turns {terms:,} polynomial "
        f"terms into sympy expressions, which",
        f"cost as much as multiplying out (×{SYMPY_TERM_COST} a term)",
    )


def _charge_smooth(context: Context, tensor: SymTensor) -> None:
    """A smooth function (``exp``, ``tanh``, …) of an expression: sympy builds and walks
    each entry's whole expression, and the result holds it at least once."""
    _charge_sympy(context, _terms(tensor.entries, {}), "a smooth function")


def _charge_rows(context: Context, rows: list[list[Entry]]) -> None:
    """A softmax row of ``n`` entries: sympy takes ``exp`` of each, and each of the ``n``
    results holds the whole row's sum of exponentials, so at least ``n`` times the row's
    terms; refuse before building any row when either is past the limit."""
    memo: dict = {}
    terms = [_terms(row, memo) for row in rows]
    _charge_sympy(context, sum(terms), "a softmax")
    context.budget.charge(
        sum(len(row) * count for row, count in zip(rows, terms, strict=True)),
        f"{context.node.name} ({op_name(context.node)}, a softmax)",
        "hold",
    )


def non_polynomial_origin(node: fx.Node, operands: list[Any], result: Any) -> frozenset[str]:
    """The nodes that made some entry non-polynomial: this one, when its symbolic
    operands were polynomial and its result is not."""
    before = origins_of(*operands)
    results = result if isinstance(result, (list, tuple)) else [result]
    made = any(isinstance(r, SymTensor) and not r.polynomial for r in results) and all(
        o.polynomial for o in operands if isinstance(o, SymTensor)
    )
    return before | ({f"{node.name} ({op_name(node)})"} if made else frozenset())
