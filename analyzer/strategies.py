"""Hypothesis strategies of architectures with ground truth: the public name of
:mod:`analyzer.testing.strategies`.

>>> from analyzer.strategies import architectures
>>> architectures(blocks=["linear", "relu"], max_depth=2)  # doctest: +ELLIPSIS
draw_one()
"""

from analyzer.testing.strategies import Architecture, OpGraph, Truth, architectures, op_graphs

__all__ = ["Architecture", "OpGraph", "Truth", "architectures", "op_graphs"]
