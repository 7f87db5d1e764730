"""Exact values of one tensor entry: polynomials with rational coefficients, or sympy
expressions once a non-polynomial op (ReLU, tanh, a division by an input) was applied.

A :class:`Rat` is a sparse polynomial with integer coefficients over one positive integer
denominator. Monomials are sorted tuples of variable indices (``x0·x3²`` is
``(0, 3, 3)``), so that a product costs the same with 4 symbols or 400, and float
weights, dyadic rationals with large denominators, multiply without a gcd per
coefficient; the arithmetic stays exact. Entries of a tensor are :class:`Rat` or
:class:`sympy.Expr`; the helpers here combine them, switching to ``Expr`` only when
they must.

>>> import sympy
>>> ring = Ring(sympy.symbols("x y"))
>>> x, y = ring.generators()
>>> value = add(mul(x, y), constant(0.5, ring))
>>> value.as_expr()
x*y + 1/2
>>> degree(value), cross_monomials([value])
(2, [x*y])
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import sympy
from sympy.functions.elementary.piecewise import ExprCondPair

INF = math.inf

Monomial = tuple[int, ...]  # sorted variable indices, repeated by exponent
Terms = dict[Monomial, int]


class Ring:
    """The input symbols that monomials index."""

    def __init__(self, symbols: Sequence[sympy.Symbol]) -> None:
        self.symbols = tuple(symbols)

    def generators(self) -> list[Rat]:
        """One polynomial per symbol."""
        return [Rat({(i,): 1}, 1, self) for i in range(len(self.symbols))]

    def zero(self) -> Rat:
        return Rat({}, 1, self)


def _plus(a: Terms, b: Terms) -> Terms:
    if len(a) < len(b):
        a, b = b, a
    result = dict(a)
    for monomial, coefficient in b.items():
        value = result.get(monomial, 0) + coefficient
        if value:
            result[monomial] = value
        else:
            result.pop(monomial, None)
    return result


def _times(a: Terms, b: Terms) -> Terms:
    if len(a) < len(b):
        a, b = b, a
    if len(b) == 1 and () in b:  # a constant factor: scale
        factor = b[()]
        return {m: c * factor for m, c in a.items()} if factor else {}
    result: Terms = {}
    get = result.get
    for m2, c2 in b.items():
        for m1, c1 in a.items():
            monomial = tuple(sorted(m1 + m2)) if m1 and m2 else m1 or m2
            result[monomial] = get(monomial, 0) + c1 * c2
    return {m: c for m, c in result.items() if c}


class Rat:
    """``num / den``: integer coefficients by monomial, and a positive integer."""

    __slots__ = ("den", "num", "ring")

    def __init__(self, num: Terms, den: int, ring: Ring) -> None:
        self.num, self.den, self.ring = num, den, ring

    def __add__(self, other: Rat) -> Rat:
        if self.den == other.den:
            return Rat(_plus(self.num, other.num), self.den, self.ring)
        common = math.lcm(self.den, other.den)
        left = _times(self.num, {(): common // self.den})
        right = _times(other.num, {(): common // other.den})
        return Rat(_plus(left, right), common, self.ring)

    def __mul__(self, other: Rat) -> Rat:
        return Rat(_times(self.num, other.num), self.den * other.den, self.ring)

    def __neg__(self) -> Rat:
        return Rat({m: -c for m, c in self.num.items()}, self.den, self.ring)

    def __pow__(self, exponent: int) -> Rat:
        result = Rat({(): 1}, 1, self.ring)
        for _ in range(exponent):
            result = result * self
        return result

    def scaled(self, numerator: int, denominator: int) -> Rat:
        """``self · numerator / denominator`` (a rational constant)."""
        sign = -1 if denominator < 0 else 1
        return Rat(_times(self.num, {(): sign * numerator}), self.den * abs(denominator), self.ring)

    def __len__(self) -> int:
        return len(self.num)

    def __repr__(self) -> str:
        return f"Rat({self.as_expr()})"

    @property
    def is_constant(self) -> bool:
        return not self.num or (len(self.num) == 1 and () in self.num)

    def constant_value(self) -> sympy.Rational:
        """The value of a constant (``is_constant``)."""
        return sympy.Rational(self.num.get((), 0), self.den)

    def monomials(self) -> Iterable[Monomial]:
        return self.num.keys()

    def text(self) -> str:
        """The exact polynomial as a string sympy reads back, highest degree first
        (written directly: sympy's printer is slow on thousands of terms)."""
        names = [s.name for s in self.ring.symbols]
        parts = []
        for monomial, coefficient in sorted(self.num.items(), key=_by_degree):
            value = sympy.Rational(coefficient, self.den)
            factors = "*".join(
                names[i] if monomial.count(i) == 1 else f"{names[i]}**{monomial.count(i)}"
                for i in sorted(set(monomial))
            )
            if not factors:
                parts.append(str(value))
            elif abs(value) == 1:
                parts.append(("-" if value < 0 else "") + factors)
            else:
                parts.append(f"{value}*{factors}")
        return " + ".join(parts).replace("+ -", "- ") or "0"

    def as_expr(self) -> sympy.Expr:
        symbols = self.ring.symbols
        return sympy.Add(
            *(
                sympy.Rational(c, self.den) * sympy.Mul(*(symbols[i] for i in m))
                for m, c in self.num.items()
            )
        )


def _by_degree(item: tuple[Monomial, int]) -> tuple[int, Monomial]:
    return (-len(item[0]), item[0])


Entry = Any  # Rat | sympy.Expr


def constant(value: float | int | sympy.Rational, ring: Ring) -> Rat:
    """An exact constant: a float is the dyadic rational it stores."""
    if isinstance(value, sympy.Rational):
        numerator, denominator = int(value.p), int(value.q)
    elif isinstance(value, bool):
        numerator, denominator = int(value), 1
    elif isinstance(value, int):
        numerator, denominator = value, 1
    else:
        numerator, denominator = float(value).as_integer_ratio()
    return Rat({(): numerator} if numerator else {}, denominator, ring)


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


def total(values: Iterable[Entry], ring: Ring) -> Entry:
    """The sum of ``values``: one integer polynomial per denominator, added at the end,
    so that a long sum does not copy its running total at every step."""
    by_denominator: dict[int, Terms] = {}
    expressions: list[sympy.Expr] = []
    for value in values:
        if not isinstance(value, Rat):
            expressions.append(value)
            continue
        accumulated = by_denominator.setdefault(value.den, {})
        for monomial, coefficient in value.num.items():  # in place: no copy per step
            accumulated[monomial] = accumulated.get(monomial, 0) + coefficient
    result = ring.zero()
    for denominator, terms in by_denominator.items():
        result = result + Rat({m: c for m, c in terms.items() if c}, denominator, ring)
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
            return a**k
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
        return max((len(m) for m in value.num), default=0)
    return _expr_degree(value, inputs, {})


def _expr_degree(
    expression: sympy.Basic, inputs: frozenset[sympy.Symbol] | None, memo: dict
) -> float:
    if expression in memo:
        return memo[expression]
    if expression.is_Symbol:
        found = 1 if inputs is None or expression in inputs else 0
    elif expression.is_Atom:
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
        elif isinstance(expression, ExprCondPair):
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
            symbols = value.ring.symbols
            monomials: Iterable[_Monomial] = (
                tuple((symbols[i], m.count(i)) for i in sorted(set(m))) for m in value.num
            )
        else:
            monomials = _piece_monomials(value, memo) or ()
        for monomial in monomials:
            if len(monomial) >= 2:
                found[monomial] = None
        if len(found) >= limit:
            break
    ordered = sorted(
        found, key=lambda m: (sum(e for _, e in m), [(_natural(s.name), e) for s, e in m])
    )
    return [sympy.Mul(*(s**e for s, e in m)) for m in ordered[:limit]]


def _natural(name: str) -> tuple[Any, ...]:
    """``x0_2`` before ``x0_10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


_Monomial = tuple[tuple[Any, int], ...]


def _piece_monomials(expression: sympy.Basic, memo: dict) -> set[_Monomial] | None:
    """Monomials (as sorted ``(symbol, exponent)`` pairs) of the pieces of a piecewise
    polynomial expression, or ``None`` when a smooth function occurs."""
    if expression in memo:
        return memo[expression]
    result: set[_Monomial] | None
    if expression.is_Symbol:
        result = {((expression, 1),)}
    elif expression.is_Atom:
        result = {()}
    elif expression.is_Add or isinstance(expression, _PIECEWISE):
        result = set()
        for argument in expression.args:
            if isinstance(argument, ExprCondPair):
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
            result = {_monomial_times(a, b) for a in result for b in inner}
    else:
        result = None
    memo[expression] = result
    return result


def _monomial_times(a: _Monomial, b: _Monomial) -> _Monomial:
    exponents: dict[Any, int] = {}
    for s, e in (*a, *b):
        exponents[s] = exponents.get(s, 0) + e
    return tuple(sorted(exponents.items(), key=lambda item: _natural(item[0].name)))
