"""What each aten op does to tensors of exact entries: one rule per op, as data.

Most ops need no rule of their own: data movement runs on index tensors
(:func:`~analyzer.symbolic.tensors.move`), and the registry's structural ops all go
there. The rules below cover arithmetic (exact), contractions (einsum), reductions,
piecewise-linear functions (``Max``, ``Min``, ``Abs``, ``Piecewise``) and smooth
functions (sympy's ``tanh``, ``exp``, …). A smooth function of a *constant* is
evaluated in float64 and kept as the rational that float holds, as the concrete run of
the weights' own preprocessing is: the expansion is exact in the input symbols.

>>> RULES["aten.softmax"].__name__, "aten.linear" in RULES
('_softmax', True)
"""

from analyzer.symbolic.rules import contractions, elementwise, reductions
from analyzer.symbolic.rules.base import (
    RULES,
    Context,
    RuleFunction,
    Withheld,
    _arg,
    _charge_products,
    _scale,
    non_polynomial_origin,
    rule,
)
from analyzer.symbolic.rules.contractions import _plus
from analyzer.symbolic.rules.elementwise import _exact_or, _max, _min
from analyzer.symbolic.rules.reductions import _along

__all__ = [
    "RULES",
    "Context",
    "RuleFunction",
    "Withheld",
    "_along",
    "_arg",
    "_charge_products",
    "_exact_or",
    "_max",
    "_min",
    "_plus",
    "_scale",
    "contractions",
    "elementwise",
    "non_polynomial_origin",
    "reductions",
    "rule",
]  # fmt: skip
