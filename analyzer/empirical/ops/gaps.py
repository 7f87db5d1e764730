"""Ops whose forward derivatives PyTorch lacks (distances, gating, grid sampling,
grouped matrix products) or whose dependence autograd does not see (detach, item,
sampling), and ops whose values would differ between runs (uninitialised memory, shape
samplers)."""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch._decomp import decomposition_table

from analyzer.empirical.ops.registry import (
    EXPLICIT,
    _overloads,
    aten,
    explicit,
)

# --- distances, gating, sampling: forward AD missing --------------------------------


def distances(x1: torch.Tensor, x2: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """``cdist`` by broadcasting differences."""
    difference = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
    if p == 0:
        return (difference != 0).sum(-1).to(x1.dtype)
    if math.isinf(p):
        return difference.amax(-1)
    if p == 2:
        return torch.sqrt((difference * difference).sum(-1))
    return (difference**p).sum(-1) ** (1.0 / p)


@explicit(aten.cdist.default)
def _cdist(x1, x2, p=2.0, compute_mode=None):
    return distances(x1, x2, p)


@explicit(aten._cdist_forward.default)
def _cdist_forward(x1, x2, p, compute_mode):
    return distances(x1, x2, p)


@explicit(aten._pdist_forward.default, aten.pdist.default)
def _pdist(input, p=2.0):
    upper = torch.triu_indices(input.size(0), input.size(0), offset=1, device=input.device)
    return distances(input, input, p)[upper[0], upper[1]]


@explicit(aten._weight_norm.default)
def _weight_norm(v, g, dim=0):
    """``g · v / ‖v‖``, the norm over every dim but ``dim`` (all of them for ``dim=-1``)."""
    if dim == -1:
        norm = torch.sqrt((v * v).sum())
    else:
        dims = [d for d in range(v.dim()) if d != dim % v.dim()]
        norm = torch.sqrt((v * v).sum(dim=dims, keepdim=True))
    return v * (g / norm)


@explicit(aten.glu.default)
def _glu(input, dim=-1):
    first, second = input.chunk(2, dim=dim)
    return first * torch.sigmoid(second)


@explicit(aten.grid_sampler_2d.default)
def _grid_sampler_2d(*args):
    return decomposition_table[aten.grid_sampler_2d.default](*args)


@explicit(aten.grid_sampler.default)
def _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.dim() != 4:
        return aten.grid_sampler.default(input, grid, interpolation_mode, padding_mode,
                                         align_corners)  # fmt: skip
    return decomposition_table[aten.grid_sampler_2d.default](
        input, grid, interpolation_mode, padding_mode, align_corners
    )


@explicit(aten.bincount.default)
def _bincount(input, weights=None, minlength=0):
    if weights is None:
        return aten.bincount.default(input, None, minlength)
    size = max(int(input.max()) + 1 if input.numel() else 0, minlength)
    return torch.zeros(size, dtype=weights.dtype, device=weights.device).index_add(
        0, input, weights
    )


@explicit(aten.histc.default)
def _histc(input, bins=100, min=0, max=0):
    # counts are piecewise constant in the input: no derivative, the value unchanged
    return aten.histc.default(input.detach(), bins, min, max)


# --- dependence autograd does not see: detach, item, sampling ------------------------


@explicit(
    aten.detach.default, aten.detach_.default, aten.alias.default,
    *_overloads(aten.lift_fresh_copy, "default"),
)  # fmt: skip
def _identity(input):
    return input  # detach_ only drops autograd history: no value changes, nothing to write


@explicit(aten.scalar_tensor.default)
def _scalar_tensor(s, dtype=None, layout=None, device=None, pin_memory=None):
    if isinstance(s, torch.Tensor):  # an item() kept as a 0-d tensor (see _item)
        return s.to(dtype=dtype or s.dtype, device=device or s.device).clone()
    return aten.scalar_tensor.default(s, dtype=dtype, layout=layout, device=device)


@explicit(aten.full.default)
def _full(size, fill_value, dtype=None, layout=None, device=None, pin_memory=None):
    if isinstance(fill_value, torch.Tensor):
        kind = dtype or fill_value.dtype
        return fill_value.to(dtype=kind, device=device or fill_value.device).expand(size).clone()
    return aten.full.default(size, fill_value, dtype=dtype, layout=layout, device=device)


@explicit(aten.item.default, aten._local_scalar_dense.default)
def _item(input):
    # a floating scalar stays a 0-d tensor so that its tangent and batch dim survive
    return input.reshape(()) if input.is_floating_point() else input.item()


@explicit(aten.normal.Tensor_float)
def _normal_tensor_float(mean, std=1.0, generator=None):
    return mean + std * torch.randn_like(mean)


@explicit(aten.normal.float_Tensor)
def _normal_float_tensor(mean, std, generator=None):
    return mean + std * torch.randn_like(std)


@explicit(aten.normal.Tensor_Tensor)
def _normal_tensor_tensor(mean, std, generator=None):
    mean, std = torch.broadcast_tensors(mean, std)
    return mean + std * torch.randn_like(mean)


@explicit(aten.bernoulli.default)
def _bernoulli(input, generator=None):
    return (torch.rand_like(input) < input).to(input.dtype)


@explicit(aten.bernoulli.p)
def _bernoulli_p(input, p=0.5, generator=None):
    return (torch.rand_like(input) < p).to(input.dtype)


@explicit(aten.poisson.default)
def _poisson(input, generator=None):
    return aten.poisson.default(input.detach())  # counts: piecewise constant in the rate


@explicit(aten.view.default, aten._unsafe_view.default)
def _view(input, size):
    # A functionalized graph says `view` where the traced strides allowed one; float64
    # copies under vmap may be laid out otherwise. reshape is the same values either way.
    return input.reshape(size)


@explicit(aten.set_.source_Tensor)
def _set_source(input, source):
    # `w.set_(x)` makes w an alias of x: its value is x's (forward AD of set_ is missing)
    return source


@explicit(aten.view.dtype)
def _view_dtype(input, dtype):
    """A dtype view between real and complex as ``view_as_complex``/``view_as_real``
    (forward AD of ``view.dtype`` returns a zero tangent without saying so); between two
    dtypes of one width (float32 → float64 in the float64 copy) the value itself; any
    other reinterpretation of bits (``x.view(int32)``) as the op, with no tangent."""
    if input.is_floating_point() and dtype.is_complex:
        if input.element_size() * 2 == dtype.itemsize:
            return torch.view_as_complex(input.reshape(*input.shape[:-1], -1, 2))
    if input.is_complex() and dtype.is_floating_point:
        if dtype.itemsize * 2 == input.element_size():
            return torch.view_as_real(input).reshape(*input.shape[:-1], -1)
    if input.dtype == dtype:
        return input
    return aten.view.dtype(input, dtype)


def _picked_losses(input, target, weight, ignore_index):
    """−w[t]·x[t] per entry of the target, with its weight (0 where ignored): the class
    axis is 1, or 0 for a single example."""
    axis = 0 if input.dim() == 1 else 1
    kept = target != ignore_index
    safe = torch.where(kept, target, torch.zeros_like(target))
    picked = -input.gather(axis, safe.unsqueeze(axis)).squeeze(axis)
    weights = kept.to(input.dtype) if weight is None else weight[safe] * kept.to(input.dtype)
    return picked * weights, weights


def _reduced_loss(losses, weights, reduction):
    if reduction == 0:  # none
        return losses
    return losses.sum() if reduction == 2 else losses.sum() / weights.sum()


# nll_loss's forward-mode derivative ignores the tangent of its class weights: written out,
# −w[t]·x[t] differentiates in both
@explicit(aten.nll_loss_nd.default, aten.nll_loss.default)
def _nll_loss(input, target, weight=None, reduction=1, ignore_index=-100):
    losses, weights = _picked_losses(input, target, weight, ignore_index)
    return _reduced_loss(losses, weights, reduction)


@explicit(aten.nll_loss_forward.default)
def _nll_loss_forward(input, target, weight, reduction, ignore_index):
    losses, weights = _picked_losses(input, target, weight, ignore_index)
    total = weights.sum() if reduction != 0 else weights.new_zeros(())
    return _reduced_loss(losses, weights, reduction), total


# --- uninitialised memory: zeros, so that every run reads the same values --------------


def _zeros_instead(op: Any) -> Callable[..., Any]:
    """``op`` with its (arbitrary) contents set to zero: an ``empty`` tensor's values are
    whatever the allocator left, which would differ between runs and samples and read
    as a dependence on the input."""

    def call(*args: Any, **kwargs: Any) -> torch.Tensor:
        return op(*args, **kwargs).zero_()

    return call


for _op in (
    *_overloads(aten.empty, "memory_format"), aten.empty_like.default, aten.new_empty.default,
    aten.empty_strided.default, aten.new_empty_strided.default,
    *_overloads(aten.empty_permuted, "default"),
):  # fmt: skip
    EXPLICIT[_op] = _zeros_instead(_op)


# --- samplers of a tensor's shape: one draw for every sample ----------------------------


def _shape_sampler(op: Any) -> Callable[..., Any]:
    """``op`` (``normal_functional``, ``uniform``…: ``self`` gives only the shape) on a
    fresh unbatched tensor of ``self``'s shape: vmap has no batching rule for these and
    loops, drawing different numbers per sample, so two samples would differ by the draw
    alone and read as a dependence on the input."""

    def call(input: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        blank = torch.zeros(input.shape, dtype=input.dtype, device=input.device)
        return op(blank, *args, **kwargs)

    return call


for _op in (
    *_overloads(aten.normal_functional, "default"), aten.uniform.default,
    aten.exponential.default, aten.cauchy.default, aten.log_normal.default,
    aten.geometric.default, *_overloads(aten.random, "default", "from", "to"),
):  # fmt: skip
    EXPLICIT[_op] = _shape_sampler(_op)


# --- grouped matrix products: no float64 kernel on the CPU --------------------------


def grouped_mm(
    mat_a: torch.Tensor,
    mat_b: torch.Tensor,
    offs: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    out_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``torch._grouped_mm`` written with ``einsum`` (the kernel takes no float64): with
    ``offs`` (cumulative group ends) a 2-d ``mat_a`` is cut into row groups, one matrix
    of a 3-d ``mat_b`` each (rows past the last end give zeros, as transformers'
    fallback does); a 2-d ``mat_b`` is cut into column groups for a 3-d ``mat_a``; two
    2-d operands are cut along the contracted axis into a stack of products. The groups
    are masks, not slices, so that no value is read (``offs`` depends on the routing,
    and under ``jvp`` and ``vmap`` its entries cannot be read).

    >>> a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    >>> out = grouped_mm(a, b, torch.tensor([2, 5]))
    >>> bool(torch.allclose(out[:2], a[:2] @ b[0]) and torch.allclose(out[2:], a[2:] @ b[1]))
    True
    """
    if mat_a.dim() == 3 and mat_b.dim() == 3:
        out = mat_a @ mat_b
    else:
        assert offs is not None, "a grouped product of a 2-d operand needs offs"
        if mat_a.dim() == 2 and mat_b.dim() == 3:
            mask = _groups(offs, mat_a.size(0), mat_a.dtype)
            out = torch.einsum("gs,sk,gkn->sn", mask, mat_a, mat_b)
        elif mat_a.dim() == 3 and mat_b.dim() == 2:
            mask = _groups(offs, mat_b.size(-1), mat_a.dtype)
            out = torch.einsum("gn,gmk,kn->mn", mask, mat_a, mat_b)
        else:
            mask = _groups(offs, mat_a.size(-1), mat_a.dtype)
            out = torch.einsum("gk,mk,kn->gmn", mask, mat_a, mat_b)
    if bias is not None:
        out = out + bias
    return out if out_dtype is None else out.to(out_dtype)


def _groups(offs: torch.Tensor, size: int, dtype: torch.dtype) -> torch.Tensor:
    """``(groups, size)``: 1 where position ``i`` lies in group ``g`` (``offs``: ends)."""
    positions = torch.arange(size, device=offs.device)
    ends = offs.unsqueeze(-1)
    starts = torch.cat([torch.zeros_like(offs[:1]), offs[:-1]]).unsqueeze(-1)
    return ((positions >= starts) & (positions < ends)).to(dtype)


@explicit(*_overloads(aten._grouped_mm, "default"))
def _grouped_mm(mat_a, mat_b, offs=None, bias=None, out_dtype=None):
    return grouped_mm(mat_a, mat_b, offs, bias, out_dtype)


EXPLICIT_BY_NAME: dict[str, Callable[..., Any]] = {
    # transformers' own loop of mm over expert groups (a custom op, registered late)
    "transformers.grouped_mm_fallback": lambda input, weight, offs: grouped_mm(input, weight, offs),
}
"""Explicit implementations of ops outside ``aten``, by name (their packets may not exist
when this module is imported)."""
