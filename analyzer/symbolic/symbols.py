"""Shapes of an exported graph as sympy expressions in the user's symbols.

torch.export names a dynamic dimension ``s70`` and writes shapes with its own sympy
functions (``FloorDiv``, ``PythonMod``, …). :class:`ShapeReader` renames the symbols
after the ``--dim`` specs (``s70`` → ``N``) and rewrites torch's functions into plain
sympy, so that every expression prints as a string :func:`sympy.sympify` reads back.

>>> import sympy
>>> expression = plain(sympy.Symbol("s0") * 2, {sympy.Symbol("s0"): symbol("N")})
>>> expression, expression.free_symbols == {symbol("N")}
(2*N, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sympy
import torch
import torch.fx as fx

from analyzer.frontend.dialect import InputKind, TracedModel

# torch's integer functions (torch.utils._sympy.functions) as plain sympy, by name.
_PLAIN = {
    "FloorDiv": lambda a, b: sympy.floor(a / b),
    "CeilDiv": lambda a, b: sympy.ceiling(a / b),
    "CleanDiv": lambda a, b: a / b,
    "IntTrueDiv": lambda a, b: a / b,
    "FloatTrueDiv": lambda a, b: a / b,
    "PythonMod": sympy.Mod,
    "Mod": sympy.Mod,
    "ModularIndexing": lambda x, d, m: sympy.Mod(sympy.floor(x / d), m),
    "PowByNatural": lambda a, b: a**b,
    "FloatPow": lambda a, b: a**b,
    "TruncToInt": sympy.floor,
    "FloorToInt": sympy.floor,
    "CeilToInt": sympy.ceiling,
    "Identity": lambda x: x,
    "ToFloat": lambda x: x,
    "Max": sympy.Max,
    "Min": sympy.Min,
}


def symbol(name: str) -> sympy.Symbol:
    """The symbol of a dimension: a positive integer, so that ``solve`` keeps only
    sizes and ``N**2 > N`` is decided."""
    return sympy.Symbol(name, integer=True, positive=True)


def symbols_of(names: Iterable[str]) -> dict[str, sympy.Symbol]:
    """``{name: symbol(name)}``: the ``locals`` that read a cost document's strings back
    (``sympy.sympify("N**2", locals=...)``; without them sympify reads ``N`` as its
    numeric-evaluation function)."""
    return {name: symbol(name) for name in names}


def plain(expression: Any, renames: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """``expression`` with torch's symbols renamed and torch's functions made plain."""
    expression = sympy.sympify(expression)
    if expression.is_Atom:
        return renames.get(expression, expression)  # type: ignore[arg-type]
    args = [plain(a, renames) for a in expression.args]
    module = type(expression).__module__ or ""
    if module.startswith("torch."):
        name = type(expression).__name__
        rule = _PLAIN.get(name)
        return rule(*args) if rule is not None else sympy.Function(name)(*args)
    return expression.func(*args) if args else expression


class ShapeReader:
    """Reads node shapes as tuples of plain sympy expressions, caching each conversion."""

    def __init__(self, renames: Mapping[sympy.Symbol, sympy.Expr]) -> None:
        self.renames = dict(renames)
        self._cache: dict[Any, sympy.Expr] = {}

    def size(self, value: int | torch.SymInt) -> sympy.Expr:
        """One size: an ``int`` or a ``SymInt`` of the export."""
        if isinstance(value, int):
            return sympy.Integer(value)
        expression = value.node.expr
        found = self._cache.get(expression)
        if found is None:
            found = self._cache[expression] = plain(expression, self.renames)
        return found

    def shape(self, value: Any) -> tuple[sympy.Expr, ...] | None:
        """The shape of a tensor, a node (its ``meta["val"]``) or ``None``."""
        if isinstance(value, fx.Node):
            value = value.meta.get("val")
        if isinstance(value, torch.Tensor):
            return tuple(self.size(s) for s in value.shape)
        return None

    def shapes(self, value: Any) -> list[tuple[sympy.Expr, ...]]:
        """The shapes of every tensor a node produces (tuples and lists flattened)."""
        if isinstance(value, fx.Node):
            value = value.meta.get("val")
        if isinstance(value, (tuple, list)):
            return [s for item in value for s in self.shapes(item)]
        shape = self.shape(value)
        return [] if shape is None else [shape]


def input_placeholders(traced: TracedModel) -> list[fx.Node]:
    """The user-input placeholders, in the order of the model's inputs."""
    return [
        n for n in traced.graph.nodes
        if n.op == "placeholder" and traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip


def renames_from_inputs(
    traced: TracedModel, named_axes: list[tuple[int, int, str]]
) -> dict[sympy.Symbol, sympy.Expr]:
    """``{torch symbol: user symbol}`` from ``(input position, axis, user symbol)``
    triples, read off the input placeholders' symbolic shapes."""
    placeholders = input_placeholders(traced)
    renames: dict[sympy.Symbol, sympy.Expr] = {}
    for position, axis, name in named_axes:
        value = placeholders[position].meta.get("val")
        size = value.shape[axis] if isinstance(value, torch.Tensor) else None
        if isinstance(size, torch.SymInt) and isinstance(size.node.expr, sympy.Symbol):
            renames[size.node.expr] = symbol(name)
    return renames
