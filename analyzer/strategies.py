"""Hypothesis strategies of architectures with ground truth: the public name of
:mod:`analyzer.testing.strategies`.

>>> from analyzer.strategies import Architecture, architectures
>>> from analyzer.testing.blocks import Block
>>> drawn = Architecture((Block("bilinear", 2, 1),), batch=1, time=2, features=2, seed=0)
>>> drawn.describe(), drawn.truth.degree_text, sorted(drawn.truth.site_kinds)
('a single bilinear layer, 2 → 1 features', '2', ['contraction'])
"""

from analyzer.testing.strategies import Architecture, OpGraph, Truth, architectures, op_graphs

__all__ = ["Architecture", "OpGraph", "Truth", "architectures", "op_graphs"]
