"""The text ``analyzer expand`` prints: the symbols, the verdict (polynomial or not, the
exact degree against the static pass's), the cross-entry monomials, and the first output
entries with their coefficients rounded for reading (the JSON keeps them exact).

>>> short_number(sympy.Rational(1, 3))
'0.3333'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from analyzer.passes.facts import format_degree
from analyzer.symbolic.exact import Rat

if TYPE_CHECKING:
    from analyzer.symbolic.expand import Expansion


def short_number(value: sympy.Rational) -> str:
    """A coefficient to four significant digits (integers as they are)."""
    return str(int(value)) if value.is_Integer else f"{float(value):.4g}"


def readable(entry: object, terms: int = 12) -> str:
    """One output entry: a polynomial by descending degree with rounded coefficients and
    at most ``terms`` terms shown; another expression with its numbers rounded."""
    if isinstance(entry, Rat):
        symbols = entry.ring.symbols
        ordered = sorted(entry.num.items(), key=lambda item: (-len(item[0]), item[0]))
        parts = []
        for monomial, coefficient in ordered[:terms]:
            value = sympy.Rational(coefficient, entry.den)
            factors = "*".join(
                symbols[i].name
                if monomial.count(i) == 1
                else f"{symbols[i].name}**{monomial.count(i)}"
                for i in sorted(set(monomial))
            )
            if not monomial:
                parts.append(short_number(value))
            elif value == 1:
                parts.append(factors)
            else:
                parts.append(f"{short_number(value)}*{factors}")
        text = " + ".join(parts).replace("+ -", "- ") or "0"
        hidden = len(ordered) - terms
        return text + (f" + … ({len(ordered)} terms)" if hidden > 0 else "")
    text = _RoundingPrinter().doprint(entry)
    return text if len(text) <= 400 else text[:400] + " …"


class _RoundingPrinter(StrPrinter):
    """sympy's str printer with numbers to four significant digits, rounded as they are
    printed (``sympy.N`` would rebuild the expression, and a rebuilt nest of ``Max`` is
    re-evaluated pairwise: minutes for a small ConvNet), that stops printing the terms of
    a sum or the arguments of a ``Max`` once about ``limit`` characters are out (a ConvNet's
    output entry has tens of thousands of terms; only the first 400 characters are shown).
    """

    def __init__(self, limit: int = 400) -> None:
        super().__init__({"order": "none"})  # no sorting of long sums
        self.limit, self.spent = limit, 0

    def _leaf(self, text: str) -> str:
        self.spent += len(text)
        return text

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self._leaf(expr.name)

    def _print_Rational(self, expr: sympy.Rational) -> str:
        return self._leaf(short_number(expr))

    def _print_Float(self, expr: sympy.Float) -> str:
        return self._leaf(f"{float(expr):.4g}")

    _print_Integer = _print_Rational

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coefficient, rest = expr.as_coeff_Mul()
        if coefficient.is_Rational and coefficient not in (1, -1) and rest != 1:
            number = self._print(coefficient)
            return f"{number}*{self.parenthesize(rest, PRECEDENCE['Mul'])}"
        return super()._print_Mul(expr)

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        text = ""
        for term in expr.args:
            if self.spent > self.limit:
                return text + " + …"
            printed = self._print(term)
            if not text:
                text = printed
            elif printed.startswith("-"):
                text += " - " + printed[1:]
            else:
                text += " + " + printed
        return text

    def _arguments(self, name: str, expr: sympy.Basic) -> str:
        parts = []
        for argument in expr.args:
            if self.spent > self.limit:
                parts.append("…")
                break
            parts.append(self._print(argument))
        return f"{name}({', '.join(parts)})"

    def _print_Max(self, expr: sympy.Basic) -> str:
        return self._arguments("Max", expr)

    def _print_Min(self, expr: sympy.Basic) -> str:
        return self._arguments("Min", expr)


def expand_text(expansion: Expansion, *, show: int = 4, terms: int = 12) -> str:
    """What ``analyzer expand`` prints (``show`` output entries, ``terms`` terms each)."""
    width = 22
    sources = ", ".join(f"{n} {s}" for n, s in expansion.sources)
    names = [s.name for s in expansion.symbols]
    listed = ", ".join(names) if len(names) <= 6 else f"{names[0]}, {names[1]}, …, {names[-1]}"
    exact = format_degree(expansion.degree)
    agree = "agrees" if exact == expansion.static_degree else "DISAGREES"
    kind = "polynomial" if expansion.polynomial else (
        "piecewise polynomial" if expansion.piecewise and exact != "inf" else "not a polynomial"
    )  # fmt: skip
    shapes = ", ".join(str(s) for s in expansion.output_shapes)
    lines = [
        f"{'model':<{width}}{expansion.model}",
        f"{'symbols':<{width}}{len(names)}: {listed}  (from {sources})",
        f"{'outputs':<{width}}{len(expansion.outputs)} entries (shapes {shapes}): {kind}",
        f"{'degree':<{width}}{exact}"
        + (" on every piece" if kind.startswith("piecewise") else "")
        + f"   (static pass: {expansion.static_degree}, {agree})",
    ]
    if expansion.non_polynomial:
        lines.append(f"{'non-polynomial from':<{width}}{', '.join(expansion.non_polynomial)}")
    cross = expansion.cross_terms
    examples = ", ".join(sympy.sstr(m) for m in cross[:6]) + (", …" if len(cross) > 6 else "")
    lines.append(
        f"{'cross-entry terms':<{width}}{len(cross)}"
        + (f": {examples}" if cross else "")
        + ("" if expansion.polynomial or expansion.piecewise else "  (polynomial pieces only)")
    )
    lines.append("")
    shown = min(show, len(expansion.outputs))
    lines.append(
        f"first {shown} of {len(expansion.outputs)} output entries "
        "(coefficients to 4 digits; --json has them exact)"
    )
    for index in range(shown):
        lines.append(f"  y[{index}] = {readable(expansion.outputs[index], terms)}")
    for warning in expansion.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
