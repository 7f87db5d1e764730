"""The terminal text of ``analyzer expand``: numbers rounded as they are printed, and a
huge piecewise expression cut after its first characters without being printed whole."""

from __future__ import annotations

import time

import sympy

from analyzer.render.expand import readable


def test_numbers_are_rounded_and_signs_read_naturally() -> None:
    x, y = sympy.symbols("x0_0 x0_1")
    assert readable(sympy.Rational(1, 3) * sympy.Max(0, sympy.Rational(-2, 7) * x + y) + 2) == (
        "2 + 0.3333*Max(0, x0_1 - 0.2857*x0_0)"
    )
    assert readable(-x / 2 - sympy.tanh(y)) in ("-tanh(x0_1) - 0.5*x0_0", "-0.5*x0_0 - tanh(x0_1)")


def test_a_huge_nest_of_max_is_cut_quickly() -> None:
    """A ConvNet's output entry is a nest of Max over sums of thousands of terms; sympy.N
    on it took minutes (it rebuilds and re-evaluates every Max)."""
    xs = sympy.symbols("x0:400")
    layer = [  # built in one Add each, unevaluated: summing term by term took 17 s
        sympy.Max(
            0,
            sympy.Add(*(sympy.Rational(i + j + 1, 997) * x for j, x in enumerate(xs))),
            evaluate=False,
        )
        for i in range(40)
    ]
    entry = sympy.Max(0, sympy.Add(*(sympy.Rational(3, 7) * u for u in layer)), evaluate=False)
    started = time.perf_counter()
    text = readable(entry)
    assert time.perf_counter() - started < 2.0
    assert len(text) <= 402 and "Max(0, " in text and text.endswith(" …")
