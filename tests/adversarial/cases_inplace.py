"""Class 1: in-place writes into views and buffers.

torch.export's training IR keeps in-place ops (``mul_``, ``copy_``, ``index_put_``), so a pass
that follows def-use edges sees the written base as it was before the write. The truth is
that of the functional program: the base depends on what was written into it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import ANY_SITE, CONTRACTION, GATING, Fn, case, truth


@case("inplace", truth(2, GATING))
def setitem_product_into_zeros():
    """out = zeros_like(x); out[:, 0] = x[:, 0]·x[:, 1]: entry 0 × entry 1, written in place."""

    def forward(m, x):
        out = torch.zeros_like(x)
        out[:, 0] = x[:, 0] * x[:, 1]
        return out

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(2, GATING))
def imul_slice_of_clone():
    """y = x.clone(); y[:, :2] *= x[:, 2:]: the first half becomes x_i·x_{i+2}."""

    def forward(m, x):
        y = x.clone()
        y[:, :2] *= x[:, 2:]
        return y

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(2, cross=False))
def view_alias_mul_():
    """y = x.clone(); y.view(-1).mul_(x.view(-1)): y is x², written through a view alias."""

    def forward(m, x):
        y = x.clone()
        y.view(-1).mul_(x.view(-1))
        return y

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(1))
def copy_into_slices_then_linear():
    """out = zeros(2, 8); out[:, :4].copy_(x); out[:, 4:] = 2x; linear(out): linear in x."""

    def forward(m, x):
        out = torch.zeros(2, 8)
        out[:, :4].copy_(x)
        out[:, 4:] = 2 * x
        return m.lin(out)

    return Fn(forward, lin=nn.Linear(8, 3)), (torch.randn(2, 4),)


@case("inplace", truth(2, GATING))
def shifted_product_via_setitem():
    """buf = ones_like(x); buf[:, 1:] = x[:, :-1]; buf·x: x_{i-1}·x_i."""

    def forward(m, x):
        buf = torch.ones_like(x)
        buf[:, 1:] = x[:, :-1]
        return buf * x

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(2, GATING))
def addcmul_into_zeros():
    """y = zeros_like(x); y.addcmul_(x, x.flip(-1)): x_i·x_{n-1-i}, accumulated in place."""

    def forward(m, x):
        y = torch.zeros_like(x)
        y.addcmul_(x, x.flip(-1))
        return y

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(1))
def index_put_data_indices():
    """zeros(4).index_put_((argmax x,), amax x, accumulate=True): the maxima, placed at
    data-dependent positions: piecewise linear."""

    def forward(m, x):
        out = x.new_zeros(4)
        out.index_put_((x.argmax(-1),), x.amax(-1), accumulate=True)
        return out

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(2, CONTRACTION))
def parameter_clone_plus_input():
    """w = W.clone(); w[0] += mean(x); x @ w: the weight now depends on x (dynamic weight)."""

    def forward(m, x):
        w = m.weight.clone()
        w[0] += x.mean(0)
        return x @ w

    return Fn(forward, weight=nn.Parameter(torch.randn(4, 4))), (torch.randn(3, 4),)


@case("inplace", truth(2, GATING))
def input_written_in_place():
    """x[:, 0] = x[:, 1]·x[:, 2]; x·1: the model overwrites its own input with a product."""

    def forward(m, x):
        x[:, 0] = x[:, 1] * x[:, 2]
        return x * 1.0

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(2, ANY_SITE), stateful=True)
def buffer_updated_in_forward():
    """state.zero_().add_(mean(x)); x·state: a registered buffer rewritten from the input
    each call, then used as a multiplier: x·mean(x)."""

    def forward(m, x):
        m.state.zero_()
        m.state.add_(x.mean(0))
        return x * m.state

    return Fn(forward, state=torch.zeros(4)), (torch.randn(3, 4),)


@case("inplace", truth(2, ANY_SITE))
def diagonal_copy_then_matmul():
    """z = zeros(4, 4); z.diagonal().copy_(x[0]); z @ x[1]: diag(x₀)·x₁ = x₀ ⊙ x₁."""

    def forward(m, x):
        z = torch.zeros(4, 4)
        z.diagonal().copy_(x[0])
        return z @ x[1]

    return Fn(forward), (torch.randn(2, 4),)


@case("inplace", truth(2, GATING))
def mul_with_out_argument():
    """torch.mul(a, b, out=buf) with a, b halves of x: the product lands in a static buffer."""

    def forward(m, x):
        buf = torch.empty(2, 2)
        torch.mul(x[:, :2], x[:, 2:], out=buf)
        return buf

    return Fn(forward), (torch.randn(2, 4),)


class CachedAttention(nn.Module):
    """Single-head attention that writes K and V into cache buffers in place, then reads them
    back: both contractions are input-by-input."""

    def __init__(self, dim: int = 8, capacity: int = 6) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.register_buffer("cache_k", torch.zeros(1, capacity, dim))
        self.register_buffer("cache_v", torch.zeros(1, capacity, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        self.cache_k[:, :length] = self.k(x)
        self.cache_v[:, :length] = self.v(x)
        keys, values = self.cache_k[:, :length], self.cache_v[:, :length]
        scores = self.q(x) @ keys.transpose(1, 2) / math.sqrt(x.shape[-1])
        return F.softmax(scores, dim=-1) @ values


@case("inplace", truth(math.inf, CONTRACTION, min_sites=2), stateful=True)
def kv_cache_attention():
    """softmax(q·K_cacheᵀ)·V_cache where K and V were written into buffers in place."""
    return CachedAttention(), (torch.randn(1, 4, 8),)
