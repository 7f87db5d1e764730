"""Class 9: other attacks on a registry-based analysis.

Selections by data (``where``, ``masked_fill``, ``sort``, ``gather``), powers with every kind
of exponent, division by static and input values, products hidden in fused ops
(``baddbmm``, ``addcmul``, a dynamic convolution kernel), Python loops, higher-order control
flow (``torch.cond``), a product spelled as a difference of squares, numbers far from 1,
and a few controls that must stay exact.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import ANY_SITE, CONTRACTION, GATING, Fn, case, truth

X = (2, 4)


def _x() -> tuple[torch.Tensor]:
    return (torch.randn(*X),)


def _xy() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(*X), torch.randn(*X)


@case("attack", truth(2, GATING))
def cond_higher_order_op():
    """torch.cond(sum(x) > 0, x·flip(x), relu(x)): the example takes the product branch."""

    def forward(m, x):
        return torch.cond(x.sum() > 0, lambda z: z * z.flip(-1), lambda z: torch.relu(z), (x,))

    return Fn(forward), (torch.rand(*X) + 2,)


@case("attack", truth(2, GATING))
def where_product_branch():
    """where(x > 0, x·y, y): a product on one side of a data-dependent selection."""
    return Fn(lambda m, x, y: torch.where(x > 0, x * y, y)), _xy()


@case("attack", truth(2, cross=False))
def pow_two():
    """x ** 2: pointwise, degree 2, no site."""
    return Fn(lambda m, x: x**2), _x()


@case("attack", truth(math.inf, cross=False))
def pow_two_and_a_half():
    """|x| ** 2.5: not a polynomial."""
    return Fn(lambda m, x: x.abs() ** 2.5), _x()


@case("attack", truth(math.inf, cross=False))
def two_to_the_x():
    """2 ** x: an exponential."""
    return Fn(lambda m, x: 2**x), _x()


@case("attack", truth(math.inf))
def pow_input_exponent():
    """(|x| + 1) ** y: the exponent is an input."""
    return Fn(lambda m, x, y: (x.abs() + 1) ** y), _xy()


@case("attack", truth(math.inf, ANY_SITE))
def divide_by_input():
    """x / (|y| + 1): x times a function of another input."""
    return Fn(lambda m, x, y: x / (y.abs() + 1)), _xy()


@case("attack", truth(2, CONTRACTION))
def baddbmm_hidden_product():
    """baddbmm(x, x, xᵀ): the batch matmul multiplies the input by itself."""
    return Fn(lambda m, x: torch.baddbmm(x, x, x.transpose(1, 2))), (torch.randn(1, 3, 3),)


@case("attack", truth(4, GATING))
def python_loop_gates():
    """h = x; three times h = h·lin(x): degree 4."""

    def forward(m, x):
        h = x
        for _ in range(3):
            h = h * m.lin(x)
        return h

    return Fn(forward, lin=nn.Linear(4, 4)), _x()


@case("attack", truth(2, GATING))
def sort_values_times_input():
    """sort(x).values · x: entries in sorted order times entries in place."""
    return Fn(lambda m, x: torch.sort(x, -1).values * x), _x()


@case("attack", truth(2, cross=True))
def quarter_square_product():
    """((x + y)² − (x − y)²)/4 = x·y, spelled as squares: by docs/concepts.md a pointwise
    nonlinearity (no site), but degree 2 with cross terms, so not piecewise affine."""
    return Fn(lambda m, x, y: ((x + y) ** 2 - (x - y) ** 2) / 4), _xy()


@case("attack", truth(2, cross=False))
def relu_squared():
    """relu(x)²: a piecewise quadratic."""
    return Fn(lambda m, x: F.relu(x) ** 2), _x()


@case("attack", truth(0, dependence="static"))
def self_subtraction():
    """x − x = 0: static (the tool may over-approximate)."""
    return Fn(lambda m, x: x - x), _x()


@case("attack", truth(2, GATING))
def tiny_scale_product():
    """(1e-5·x)·(1e-5·y): degree 2 at a scale of 1e-10; tolerances must be relative."""
    return Fn(lambda m, x, y: (1e-5 * x) * (1e-5 * y)), _xy()


@case("attack", truth(2, GATING))
def outer_product_of_self():
    """x[:, :, None]·x[:, None, :]: every x_i·x_j."""
    return Fn(lambda m, x: x.unsqueeze(-1) * x.unsqueeze(-2)), _x()


@case("attack", truth(math.inf, ANY_SITE))
def layer_norm_module():
    """nn.LayerNorm(4): a normalisation (a control for the empirical backend's degree)."""
    return nn.LayerNorm(4), _x()
