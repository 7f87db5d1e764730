"""Exact values of one tensor entry: polynomials with rational coefficients, or sympy
expressions once a non-polynomial op (ReLU, tanh, a division by an input) was applied.

A :class:`Rat` is a polynomial over the integers and one positive integer denominator:
float weights are dyadic rationals with large denominators, and integer arithmetic
without a gcd per coefficient is several times faster than sympy's rationals, while
staying exact. Entries of a tensor are :class:`Rat` or :class:`sympy.Expr`; the helpers
here combine them, switching to ``Expr`` only when they must.

>>> from sympy.polys.rings import ring
>>> from sympy.polys.domains import ZZ
>>> R, x, y = ring("x y", ZZ)
>>> value = add(mul(Rat(x, 1), Rat(y, 1)), constant(0.5, R))
>>> value.as_expr()
x*y + 1/2
>>> degree(value), cross_monomials([value])
(2, [x*y])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import sympy
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, PolyRing

INF = math.inf


class Rat:
    """``num / den``: an integer polynomial over one ring and a positive integer."""

    __slots__ = ("den", "num")

    def __init__(self, num: PolyElement, den: int) -> None:
        self.num, self.den = num, den

    def __add__(self, other: Rat) -> Rat:
        if self.den == other.den:
            return Rat(self.num + other.num, self.den)
        common = math.lcm(self.den, other.den)
        return Rat(self.num * (common // self.den) + other.num * (common // other.den), common)

    def __mul__(self, other: Rat) -> Rat:
        return Rat(self.num * other.num, self.den * other.den)

    def __neg__(self) -> Rat:
        return Rat(-self.num, self.den)

    def scaled(self, numerator: int, denominator: int) -> Rat:
        """``self · numerator / denominator`` (a rational constant)."""
        sign = -1 if denominator < 0 else 1
        return Rat(self.num * (sign * numerator), self.den * abs(denominator))

    def __len__(self) -> int:
        return len(self.num)

    @property
    def is_constant(self) -> bool:
        return self.num.is_ground

    def constant_value(self) -> sympy.Rational:
        """The value of a constant (``is_constant``)."""
        return sympy.Rational(int(self.num.coeff(1)), self.den)

    def poly(self) -> PolyElement:
        """The same polynomial over the rationals, in lowest terms."""
        field_ring = self.num.ring.clone(domain=QQ)
        return self.num.set_ring(field_ring) * QQ(1, self.den)

    def as_expr(self) -> sympy.Expr:
        return self.poly().as_expr()


Entry = Any  # Rat | sympy.Expr


def constant(value: float | int | sympy.Rational, ring: PolyRing) -> Rat:
    """An exact constant: a float is the dyadic rational it stores."""
    if isinstance(value, sympy.Rational):
        numerator, denominator = int(value.p), int(value.q)
    elif isinstance(value, bool):
        numerator, denominator = int(value), 1
    elif isinstance(value, int):
        numerator, denominator = value, 1
    else:
        numerator, denominator = float(value).as_integer_ratio()
    return Rat(ring(numerator), denominator)


def as_expr(value: Entry) -> sympy.Expr:
    return value.as_expr() if isinstance(value, Rat) else value


def add(a: Entry, b: Entry) -> Entry:
    if isinstance(a, Rat) and isinstance(b, Rat):
        return a + b
    return as_expr(a) + as_expr(b)


def mul(a: Entry, b: Entry) -> Entry:
    if isinstance(a, Rat) and isinstance(b, Rat):
        return a * b
    return as_expr(a) * as_expr(b)


def neg(a: Entry) -> Entry:
    return -a


def total(values: Iterable[Entry], ring: PolyRing) -> Entry:
    """The sum of ``values``: one integer polynomial per denominator, added at the end,
    so that a long sum does not copy its running total at every step."""
    by_denominator: dict[int, list[PolyElement]] = {}
    expressions: list[sympy.Expr] = []
    for value in values:
        if isinstance(value, Rat):
            by_denominator.setdefault(value.den, []).append(value.num)
        else:
            expressions.append(value)
    result = Rat(ring.zero, 1)
    for denominator, numerators in by_denominator.items():
        accumulated = ring.zero.copy()
        for numerator in numerators:
            accumulated += numerator
        result = result + Rat(accumulated, denominator)
    if expressions:
        return sympy.Add(result.as_expr(), *expressions)
    return result


def divide(a: Entry, b: Entry) -> Entry:
    """``a / b``: exact when ``b`` is a constant, else a rational function (``Expr``)."""
    if isinstance(b, Rat) and b.is_constant:
        value = b.constant_value()
        if value == 0:
            return sympy.zoo if not (isinstance(a, Rat) and len(a) == 0) else sympy.nan
        if isinstance(a, Rat):
            return a.scaled(int(value.q), int(value.p))
    return as_expr(a) / as_expr(b)


def power(a: Entry, exponent: Any) -> Entry:
    """``a ** exponent``: a polynomial for natural exponents, else an ``Expr``."""
    if isinstance(exponent, (int, float)) and float(exponent).is_integer() and exponent >= 0:
        k = int(exponent)
        if isinstance(a, Rat):
            return Rat(a.num**k, a.den**k)
        return as_expr(a) ** k
    if isinstance(exponent, float):
        exponent = sympy.Rational(*exponent.as_integer_ratio())
    return (
        as_expr(a) ** as_expr(exponent)
        if not isinstance(exponent, sympy.Basic)
        else (as_expr(a) ** exponent)
    )


def size(value: Entry, memo: dict[sympy.Basic, int]) -> int:
    """Terms of a polynomial; nodes of an expression tree (shared subtrees counted once
    per use, as they print), with ``memo`` keeping the sizes already known."""
    if isinstance(value, Rat):
        return max(1, len(value))
    found = memo.get(value)
    if found is None:
        found = memo[value] = 1 + sum(size(a, memo) for a in value.args)
    return found


# --- degree and monomials of an exact value ----------------------------------------------

_PIECEWISE = (sympy.Max, sympy.Min, sympy.Abs, sympy.Piecewise, sympy.Heaviside, sympy.sign)


def degree(value: Entry, inputs: frozenset[sympy.Symbol] | None = None) -> float:
    """Total degree in the input symbols; for piecewise expressions (Max, Abs, …) the
    largest degree of a piece; ``inf`` through smooth functions and divisions by inputs."""
    if isinstance(value, Rat):
        monomials = list(value.num.itermonoms())
        return max((sum(m) for m in monomials), default=0) if len(value) else 0
    return _expr_degree(value, inputs, {})


def _expr_degree(
    expression: sympy.Basic, inputs: frozenset[sympy.Symbol] | None, memo: dict
) -> float:
    if expression in memo:
        return memo[expression]
    if expression.is_Symbol:
        found = 1 if inputs is None or expression in inputs else 0
    elif expression.is_Number or not expression.free_symbols:
        found = 0
    elif isinstance(expression, (sympy.core.relational.Relational, sympy.logic.boolalg.Boolean)):
        found = 0
    else:
        parts = [_expr_degree(a, inputs, memo) for a in expression.args]
        if expression.is_Add or isinstance(expression, _PIECEWISE):
            found = max(parts, default=0)
        elif expression.is_Mul:
            found = sum(parts)
        elif expression.is_Pow:
            base, exponent = parts[0], expression.args[1]
            if base == 0:
                found = 0
            elif exponent.is_Integer and exponent >= 0:
                found = int(exponent) * base
            else:
                found = INF
        elif isinstance(expression, sympy.piecewise.ExprCondPair):
            found = parts[0]
        else:  # a smooth function of something that varies
            found = INF if any(p > 0 for p in parts) else 0
    memo[expression] = found
    return found


def is_piecewise(value: Entry) -> bool:
    """Whether a kink or a selection occurs in the expression."""
    return not isinstance(value, Rat) and value.has(*_PIECEWISE)


def cross_monomials(values: Iterable[Entry], limit: int = 100_000) -> list[sympy.Expr]:
    """Monomials with two or more distinct input symbols, over all ``values``: exact for
    polynomials; for piecewise ones, those of their pieces (up to cancellations between
    pieces); smooth ones contribute none. At most ``limit`` are collected."""
    found: dict[_Monomial, None] = {}
    memo: dict = {}
    for value in values:
        if isinstance(value, Rat):
            generators = value.num.ring.symbols
            monomials: Iterable[_Monomial] = (
                tuple((generators[i], e) for i, e in enumerate(m) if e)
                for m in value.num.itermonoms()
            )
        else:
            monomials = _piece_monomials(value, memo) or ()
        for monomial in monomials:
            if len(monomial) >= 2:
                found[monomial] = None
        if len(found) >= limit:
            break
    ordered = sorted(found, key=lambda m: (sum(e for _, e in m), [(str(s), e) for s, e in m]))
    return [sympy.Mul(*(s**e for s, e in m)) for m in ordered[:limit]]


_Monomial = tuple[tuple[Any, int], ...]


def _piece_monomials(expression: sympy.Basic, memo: dict) -> set[_Monomial] | None:
    """Monomials (as sorted ``(symbol, exponent)`` pairs) of the pieces of a piecewise
    polynomial expression, or ``None`` when a smooth function occurs."""
    if expression in memo:
        return memo[expression]
    result: set[_Monomial] | None
    if expression.is_Symbol:
        result = {((expression, 1),)}
    elif expression.is_Number or not expression.free_symbols:
        result = {()}
    elif expression.is_Add or isinstance(expression, _PIECEWISE):
        result = set()
        for argument in expression.args:
            if isinstance(argument, sympy.piecewise.ExprCondPair):
                argument = argument.expr
            inner = _piece_monomials(argument, memo)
            if inner is None:
                result = None
                break
            result |= inner
    elif expression.is_Mul or (
        expression.is_Pow and expression.args[1].is_Integer and expression.args[1] > 0
    ):
        factors = (
            list(expression.args) if expression.is_Mul
            else [expression.args[0]] * int(expression.args[1])
        )  # fmt: skip
        result = {()}
        for factor in factors:
            inner = _piece_monomials(factor, memo)
            if inner is None or len(result) * len(inner) > 200_000:
                result = None
                break
            result = {_times(a, b) for a in result for b in inner}
    else:
        result = None
    memo[expression] = result
    return result


def _times(a: _Monomial, b: _Monomial) -> _Monomial:
    exponents: dict[Any, int] = {}
    for s, e in (*a, *b):
        exponents[s] = exponents.get(s, 0) + e
    return tuple(sorted(exponents.items(), key=lambda item: str(item[0])))
