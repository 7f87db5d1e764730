"""Explicit float64 implementations of the ops whose PyTorch derivatives are wrong,
missing, or blind to a dependence.

The empirical backend differentiates the published graph node by node
(:mod:`analyzer.empirical.execute`). For most aten ops PyTorch's forward-mode AD is
exact to any order; for the ops below it is not, and each gets an implementation here
whose *value* equals the op's and whose derivatives (nested ``jvp``, under ``vmap``)
are those of the function the op computes:

* nested forward AD is wrong: ``native_layer_norm`` and the other fused norms (the
  second derivative, so LayerNorm measured degree 3), ``det``/``slogdet``/``solve``
  (``det`` of a cubic measured ``inf``), ``scatter_reduce(prod)`` (zero tangents);
* forward AD is missing: fused attention on the CPU, ``cdist``, ``index_reduce``, ``glu``,
  and the class weights' tangent in ``nll_loss``;
* the value depends on the input but autograd does not see it: ``detach``, ``item``,
  sampling with input-dependent parameters (``normal(mean=x)``). Dependence follows
  values (docs/concepts.md), so these pass their tangent on; random draws come from a
  generator the executor reseeds before every run, so each is a fixed function.

Fused attention also returns its inner values (``scores`` = q·kᵀ, ``weights``), the
operands of its ``scores`` and ``mix`` sites. Every entry has a test comparing its
nested ``jvp`` with finite differences of the native op (tests/empirical/test_ops.py).

>>> import torch
>>> q = torch.randn(1, 2, 3, 4, dtype=torch.float64)
>>> out = EXPLICIT[torch.ops.aten.scaled_dot_product_attention.default](q, q, q)
>>> sorted(out.inner), bool(torch.allclose(
...     out.value, torch.nn.functional.scaled_dot_product_attention(q, q, q)))
(['scores', 'weights'], True)
"""

from analyzer.empirical.ops import algebra, fused, gaps  # noqa: F401  (they fill EXPLICIT)
from analyzer.empirical.ops.algebra import determinant, product, solve
from analyzer.empirical.ops.fused import _grouped, attention
from analyzer.empirical.ops.gaps import EXPLICIT_BY_NAME, distances, grouped_mm
from analyzer.empirical.ops.registry import (
    EXPLICIT,
    WithInner,
    _overloads,
    explicit,
    named_arguments,
)

__all__ = [
    "EXPLICIT",
    "EXPLICIT_BY_NAME",
    "WithInner",
    "_grouped",
    "_overloads",
    "attention",
    "determinant",
    "distances",
    "explicit",
    "grouped_mm",
    "named_arguments",
    "product",
    "solve",
]
