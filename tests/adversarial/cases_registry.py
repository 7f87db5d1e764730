"""Class 3: registry entries that drop a product or a dependence.

Each case is one op whose algebra the registry got wrong: a product filed as affine
(``lerp``), ReLU-like (``prelu``, complex ``abs``), a selection (``scatter`` with a
multiplying reduce), a comparison (weighted ``bincount``), a pointwise self-product (``glu``,
``prod``, ``cumprod``, complex squares) or an affine map (eval-mode batch norm whose
statistics or weight come from the input).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import ANY_SITE, GATING, Fn, case, truth

PAIRS = [[0, 0, 1, 1], [0, 0, 1, 1]]  # scatter index: columns 0,1 → 0 and 2,3 → 1


@case("registry", truth(math.inf, GATING))
def lerp_gate():
    """lerp(a(x), b(x), sigmoid(c(x))) = a + σ(c)·(b − a): a gate."""

    def forward(m, x):
        return torch.lerp(m.a(x), m.b(x), torch.sigmoid(m.c(x)))

    layers = {name: nn.Linear(4, 4) for name in "abc"}
    return Fn(forward, **layers), (torch.randn(2, 4),)


@case("registry", truth(2, GATING))
def lerp_polynomial_weight():
    """lerp(x, z, x) = x + x·(z − x): degree 2, x·z a product of two inputs."""
    return Fn(lambda m, x, z: torch.lerp(x, z, x)), (torch.randn(2, 4), torch.randn(2, 4))


@case("registry", truth(2, GATING))
def prelu_input_slope():
    """prelu(x, s) = max(0, x) + s·min(0, x) with the slope s an input: s·x."""
    return Fn(lambda m, x, s: F.prelu(x, s)), (torch.randn(2, 4), torch.rand(4))


@case("registry", truth(2, GATING))
def scatter_reduce_prod():
    """ones(2, 2).scatter_reduce(1, idx, x, "prod"): out[b, k] = x_{b,2k}·x_{b,2k+1}."""

    def forward(m, x):
        return torch.ones(2, 2).scatter_reduce(1, torch.tensor(PAIRS), x, reduce="prod")

    return Fn(forward), (torch.randn(2, 4),)


@case("registry", truth(2, GATING))
def scatter_multiply_inplace():
    """ones(2, 2).scatter_(1, idx, x, reduce="multiply"): the same products, in place."""

    def forward(m, x):
        return torch.ones(2, 2).scatter_(1, torch.tensor(PAIRS), x, reduce="multiply")

    return Fn(forward), (torch.randn(2, 4),)


@case("registry", truth(1))
def bincount_weighted_input_ids():
    """bincount(ids, weights=x) with ids an integer input: linear in x."""
    return Fn(lambda m, ids, x: torch.bincount(ids, weights=x, minlength=4)), (
        torch.tensor([2, 0, 1, 1, 3]),
        torch.randn(5),
    )


@case("registry", truth(math.inf, cross=True))
def complex_abs():
    """|view_as_complex(x)| = sqrt(re² + im²): smooth, not ReLU-like; mixes re and im."""
    return Fn(lambda m, x: torch.view_as_complex(x.view(2, 2, 2)).abs()), (torch.randn(2, 4),)


@case("registry", truth(2, ANY_SITE))
def complex_square():
    """view_as_real(z²), z = view_as_complex(x): imaginary part 2·re·im, a product of two
    different entries of x."""

    def forward(m, x):
        z = torch.view_as_complex(x.view(2, 2, 2))
        return torch.view_as_real(z**2)

    return Fn(forward), (torch.randn(2, 4),)


@case("registry", truth(2, ANY_SITE))
def complex_input_self_product():
    """view_as_real(z·z) for a complex input z: 2·re(z)·im(z) in the imaginary part."""

    def forward(m, z):
        return torch.view_as_real(z * z)

    return Fn(forward), (torch.randn(4, dtype=torch.complex64),)


@case("registry", truth(math.inf, ANY_SITE))
def batchnorm_eval_input_statistics():
    """batch_norm(x, mean(x), var(x), training=False): running statistics from the input
    make eval-mode batch norm a normalisation, not an affine map."""

    def forward(m, x):
        mean, var = x.mean(0).detach(), x.var(0).detach()
        return F.batch_norm(x, mean, var, training=False)

    return Fn(forward), (torch.randn(6, 4),)


@case("registry", truth(2, ANY_SITE))
def batchnorm_eval_input_weight():
    """batch_norm(x, μ, σ², weight=mean(x), training=False): (x − μ)/σ · mean(x)."""

    def forward(m, x):
        return F.batch_norm(x, m.mean, m.var, weight=x.mean(0), training=False)

    return Fn(forward, mean=torch.randn(4), var=torch.rand(4) + 0.5), (torch.randn(6, 4),)


@case("registry", truth(math.inf, GATING))
def glu_fused():
    """glu(x) = a·sigmoid(b) with a, b the halves of x: a gate, not a pointwise op."""
    return Fn(lambda m, x: F.glu(x, -1)), (torch.randn(2, 4),)


@case("registry", truth(4, GATING))
def prod_reduction():
    """x.prod(-1) = x₀x₁x₂x₃: distinct entries multiplied, degree 4 (the reduced length)."""
    return Fn(lambda m, x: x.prod(-1)), (torch.randn(2, 4),)


@case("registry", truth(4, GATING))
def cumprod_scan():
    """x.cumprod(-1): running products of distinct entries, degree 4 at the last one."""
    return Fn(lambda m, x: x.cumprod(-1)), (torch.randn(2, 4),)
