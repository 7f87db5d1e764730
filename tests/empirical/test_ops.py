"""Every explicit implementation: the native op's value, and nested ``jvp`` derivatives
that match finite differences of the *native* op (the oracle), orders 0 to 3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import jvp

from analyzer.empirical.ops import EXPLICIT

aten = torch.ops.aten
D = torch.float64


def nested_derivatives(function, x, direction, order):
    """``d^k/dt^k f(x + t·direction)`` at 0 for k = 0 … order, by nested jvp."""

    def series(k):
        if k == 0:
            return lambda t: (function(x + t * direction),)
        lower = series(k - 1)

        def higher(t):
            primal, tangent = jvp(lower, (t,), (torch.ones_like(t),))
            return (*primal, tangent[-1])

        return higher

    return [d.detach().reshape(-1).numpy() for d in series(order)(torch.zeros((), dtype=D))]


def finite_difference_derivatives(function, x, direction, order, step=2e-3):
    """The same derivatives from a degree-7 polynomial fit of 17 values (float64)."""
    ts = np.linspace(-4 * step, 4 * step, 17)
    values = np.array([function(x + float(t) * direction).detach().reshape(-1).numpy()
                       for t in ts])  # fmt: skip
    coefficients = np.polynomial.polynomial.polyfit(ts, values, 7)
    return [coefficients[k] * math.factorial(k) for k in range(order + 1)]


def first(value):
    return value[0] if isinstance(value, tuple) else value


def explicit(op):
    def run(*args, **kwargs):
        value = EXPLICIT[op](*args, **kwargs)
        value = getattr(value, "value", value)
        return first(value)

    return run


torch.manual_seed(0)
W4, W3 = torch.randn(4, dtype=D), torch.randn(3, dtype=D).abs() + 0.5
INDEX = torch.tensor([0, 1, 0, 1])
# name -> (explicit implementation as f(y), native op as f(y)); y is (2, 3, 4, 4) float64
TARGET = torch.tensor([0, 2, -100, 3])  # one entry ignored

CASES = {
    "layer_norm": (
        lambda y: explicit(aten.layer_norm.default)(y, [4], W4, W4),
        lambda y: F.layer_norm(y, (4,), W4, W4),
    ),
    "native_layer_norm": (
        lambda y: explicit(aten.native_layer_norm.default)(y, [4], W4, W4, 1e-5),
        lambda y: aten.native_layer_norm.default(y, [4], W4, W4, 1e-5)[0],
    ),
    "group_norm": (
        lambda y: explicit(aten.group_norm.default)(y, 3, W3, W3),
        lambda y: F.group_norm(y, 3, W3, W3),
    ),
    "batch_norm_training": (
        lambda y: explicit(aten.batch_norm.default)(y, W3, W3, None, None, True, 0.1, 1e-5),
        lambda y: F.batch_norm(y, None, None, W3, W3, training=True),
    ),
    "instance_norm": (
        lambda y: explicit(aten.instance_norm.default)(y, W3, W3, None, None, True, 0.1, 1e-5),
        lambda y: F.instance_norm(y, weight=W3, bias=W3),
    ),
    "det": (
        lambda y: explicit(aten.linalg_det.default)(y[..., :3, :3]),
        lambda y: torch.linalg.det(y[..., :3, :3]),
    ),
    "slogdet": (
        lambda y: EXPLICIT[aten.linalg_slogdet.default](y[..., :3, :3] + 4 * torch.eye(3))[1],
        lambda y: torch.linalg.slogdet(y[..., :3, :3] + 4 * torch.eye(3))[1],
    ),
    "solve": (
        lambda y: explicit(aten.linalg_solve.default)(y + 5 * torch.eye(4), y[..., :2]),
        lambda y: torch.linalg.solve(y + 5 * torch.eye(4), y[..., :2]),
    ),
    "cumprod_with_a_zero": (
        lambda y: explicit(aten.cumprod.default)(torch.cat([y[..., :1] * 0, y], -1), -1),
        lambda y: torch.cumprod(torch.cat([y[..., :1] * 0, y], -1), -1),
    ),
    "prod": (
        lambda y: explicit(aten.prod.dim_int)(y, -1),
        lambda y: torch.prod(y, -1),
    ),
    "scatter_reduce_prod": (
        lambda y: explicit(aten.scatter_reduce.two)(
            torch.ones(2, 3, 4, 2, dtype=D), -1, INDEX.expand(2, 3, 4, 4), y, "prod"
        ),
        lambda y: torch.ones(2, 3, 4, 2, dtype=D).scatter_reduce(
            -1, INDEX.expand(2, 3, 4, 4), y, "prod"
        ),
    ),
    "index_reduce_prod": (
        lambda y: explicit(aten.index_reduce.default)(
            torch.ones(2, 3, 4, 2, dtype=D), -1, INDEX, y, "prod"
        ),
        lambda y: torch.ones(2, 3, 4, 2, dtype=D).index_reduce(-1, INDEX, y, "prod"),
    ),
    "cdist": (
        lambda y: explicit(aten.cdist.default)(y[0], y[1]),
        lambda y: torch.cdist(y[0], y[1]),
    ),
    "pdist": (
        lambda y: explicit(aten.pdist.default)(y[0, 0]),
        lambda y: F.pdist(y[0, 0]),
    ),
    # the class weights come from the input too: nll_loss's own derivative ignores them
    "nll_loss_weighted_mean": (
        lambda y: explicit(aten.nll_loss_nd.default)(y[0, 0], TARGET, y[1, 0, 0] + 2, 1, -100),
        lambda y: F.nll_loss(y[0, 0], TARGET, weight=y[1, 0, 0] + 2),
    ),
    "nll_loss_forward_weighted_sum": (
        lambda y: explicit(aten.nll_loss_forward.default)(  # the loss, its first output
            y[0, 0], TARGET, y[1, 0, 0] + 2, 2, -100
        ),
        lambda y: F.nll_loss(y[0, 0], TARGET, weight=y[1, 0, 0] + 2, reduction="sum"),
    ),
    "glu": (
        lambda y: explicit(aten.glu.default)(y, -1),
        lambda y: F.glu(y, -1),
    ),
    "weight_norm": (
        lambda y: explicit(aten._weight_norm.default)(y, W4.abs().reshape(1, 1, 1, 4), 3),
        lambda y: torch._weight_norm(y, W4.abs().reshape(1, 1, 1, 4), 3),
    ),
    "attention": (
        lambda y: explicit(aten.scaled_dot_product_attention.default)(y, 2 * y, y + 1),
        lambda y: F.scaled_dot_product_attention(y, 2 * y, y + 1),
    ),
    "attention_causal_with_mask": (
        lambda y: explicit(aten.scaled_dot_product_attention.default)(
            y, y * y, y, attn_mask=y[..., :1] * 0.5, is_causal=False
        ),
        lambda y: F.scaled_dot_product_attention(y, y * y, y, attn_mask=y[..., :1] * 0.5),
    ),
    "attention_grouped_query": (
        lambda y: explicit(aten.scaled_dot_product_attention.default)(
            y, y[:, :1], y[:, :1] * 2, enable_gqa=True
        ),
        lambda y: F.scaled_dot_product_attention(y, y[:, :1], y[:, :1] * 2, enable_gqa=True),
    ),
}


@pytest.mark.filterwarnings("ignore:index_reduce")
@pytest.mark.parametrize("name", sorted(CASES))
def test_explicit_nested_jvp_matches_finite_differences_of_the_native_op(name: str) -> None:
    ours, native = CASES[name]
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 4, 4, dtype=D, generator=generator)
    direction = torch.randn(2, 3, 4, 4, dtype=D, generator=generator)
    assert torch.allclose(ours(x), native(x), rtol=1e-10, atol=1e-12)
    measured = nested_derivatives(ours, x, direction, 3)
    oracle = finite_difference_derivatives(native, x, direction, 3)
    scale = max(float(np.abs(o).max()) for o in oracle)
    for order, (a, b) in enumerate(zip(measured, oracle, strict=True)):
        tolerance = 1e-6 if order < 3 else 1e-3
        assert np.abs(a - b).max() <= tolerance * scale, (name, order)


def test_native_nested_jvp_of_layer_norm_is_wrong_which_is_why_it_is_explicit() -> None:
    """PyTorch's second derivative through native_layer_norm disagrees with finite
    differences (if this starts failing, PyTorch fixed it and the entry may go)."""
    x = torch.randn(3, 6, dtype=D)
    direction = torch.randn(3, 6, dtype=D)
    native = lambda y: F.layer_norm(y, (6,))  # noqa: E731
    measured = nested_derivatives(native, x, direction, 2)[2]
    oracle = finite_difference_derivatives(native, x, direction, 2)[2]
    assert np.abs(measured - oracle).max() > 1e-3 * np.abs(oracle).max()


def test_dependence_autograd_does_not_see_passes_a_tangent() -> None:
    x, direction = torch.randn(4, dtype=D), torch.ones(4, dtype=D)
    item = EXPLICIT[aten.item.default]
    detach = EXPLICIT[aten.detach.default]
    _, tangent = jvp(lambda y: y * item(y.sum()) + detach(y) * y, (x,), (direction,))
    expected = x.sum() + direction.sum() * x + 2 * x  # d/dt of y·Σy + y²
    assert torch.allclose(tangent, expected)
