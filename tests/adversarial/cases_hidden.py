"""Class 2: dependence that autograd does not see is still dependence.

``.item()``, ``float()``, ``tolist()``, ``detach``, ``no_grad``, ``torch.func`` transforms
inside forward and random sampling with input-dependent parameters all carry the input's
value into the output. The oracle measures by finite differences (with the random generators
reseeded before every call), so none of them hides anything from it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import ANY_SITE, GATING, Fn, case, truth


def _two_linears() -> dict[str, nn.Module]:
    return {"a": nn.Linear(4, 4), "b": nn.Linear(4, 4)}


@case("hidden", truth(2, ANY_SITE))
def item_scaled():
    """x · x.sum().item(): x_i·Σx_j, the sum passed through a Python float."""
    return Fn(lambda m, x: x * x.sum().item()), (torch.randn(2, 4),)


@case("hidden", truth(math.inf, ANY_SITE))
def item_normalized():
    """x / x.abs().max().item(): divided by a statistic of itself, via a Python float."""
    return Fn(lambda m, x: x / x.abs().max().item()), (torch.randn(2, 4),)


@case("hidden", truth(math.inf, ANY_SITE))
def float_of_norm():
    """x · float(x.norm()): a smooth statistic multiplied back, via float()."""
    return Fn(lambda m, x: x * float(x.norm())), (torch.randn(2, 4),)


@case("hidden", truth(1))
def full_of_item():
    """full((2, 2), float(x.sum())): a factory filled with a value read from the input."""
    return Fn(lambda m, x: torch.full((2, 2), float(x.sum()))), (torch.randn(2, 4),)


@case("hidden", truth(2, cross=False))
def tensor_from_tolist():
    """x · tensor(x.tolist()) = x², the copy made through Python lists."""
    return Fn(lambda m, x: x * torch.tensor(x.tolist())), (torch.randn(2, 4),)


@case("hidden", truth(1))
def normal_with_input_mean():
    """normal(mean=x, std=0.5) = x + 0.5·ε: sampling with an input-dependent mean."""
    return Fn(lambda m, x: torch.normal(mean=x, std=0.5)), (torch.randn(2, 4),)


@case("hidden", truth(0, dependence="discrete"))
def bernoulli_of_sigmoid():
    """bernoulli(sigmoid(x)) = [u < sigmoid(x)]: piecewise constant in x, not static."""
    return Fn(lambda m, x: torch.bernoulli(torch.sigmoid(x))), (torch.randn(2, 4),)


@case("hidden", truth(0, dependence="discrete"))
def multinomial_of_softmax():
    """multinomial(softmax(x), 1): a sampled index whose distribution is the input's."""
    return Fn(lambda m, x: torch.multinomial(F.softmax(x, -1), 1).float()), (torch.randn(2, 4),)


@case("hidden", truth(2, cross=False))
def detach_self_product():
    """x.detach() · x = x²: pointwise, no site (a control)."""
    return Fn(lambda m, x: x.detach() * x), (torch.randn(2, 4),)


@case("hidden", truth(2, GATING))
def detach_gate():
    """a(x).detach() · b(x): a gate whose one side autograd does not see."""
    return Fn(lambda m, x: m.a(x).detach() * m.b(x), **_two_linears()), (torch.randn(2, 4),)


@case("hidden", truth(2, GATING))
def no_grad_gate():
    """with no_grad: a(x)·b(x): the product inside a no_grad block is still a product."""

    def forward(m, x):
        with torch.no_grad():
            return m.a(x) * m.b(x)

    return Fn(forward, **_two_linears()), (torch.randn(2, 4),)


class ZeroGradMul(torch.autograd.Function):
    """a·b forward, a backward that claims no dependence."""

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, grad * 0


@case("hidden", truth(2, GATING))
def custom_function_wrong_backward():
    """ZeroGradMul.apply(a, b): a product whose autograd.Function backward returns zeros."""
    return Fn(lambda m, x: ZeroGradMul.apply(x[:, :2], x[:, 2:])), (torch.randn(2, 4),)


@case("hidden", truth(2, cross=False))
def func_grad_inside_forward():
    """torch.func.grad(z ↦ Σz³)(x) = 3x²: a derivative computed inside forward."""

    def forward(m, x):
        return torch.func.grad(lambda z: (z**3).sum())(x)

    return Fn(forward), (torch.randn(2, 4),)


@case("hidden", truth(2, ANY_SITE))
def func_vmap_inside_forward():
    """torch.func.vmap(a, b ↦ a·b)(x, y): row-wise dot products through vmap."""

    def forward(m, x, y):
        return torch.func.vmap(lambda a, b: (a * b).sum())(x, y)

    return Fn(forward), (torch.randn(3, 4), torch.randn(3, 4))
