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
  values (DESIGN §2), so these pass their tangent on; random draws come from a
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

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch._decomp import decomposition_table
from torch.fx.operator_schemas import normalize_function

aten = torch.ops.aten

EXPLICIT: dict[Any, Callable[..., Any]] = {}
"""aten op overload -> an implementation with exact nested derivatives."""


@dataclass
class WithInner:
    """A node's value together with named values computed inside a fused op."""

    value: Any
    inner: dict[str, torch.Tensor] = field(default_factory=dict)


def explicit(*ops: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an implementation for ``ops``; registering an op twice is an error."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        for op in ops:
            if op in EXPLICIT:
                raise ValueError(f"{op} has two explicit implementations")
            EXPLICIT[op] = function
        return function

    return register


def named_arguments(op: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every argument of an aten call by its schema name (defaults filled in)."""
    normalized = normalize_function(op, args, kwargs, normalize_to_only_use_kwargs=True)
    assert normalized is not None, op
    bound = dict(normalized.kwargs)
    for spec in op._schema.arguments:
        if spec.name not in bound and spec.has_default_value():
            bound[spec.name] = spec.default_value
    return bound


def _overloads(packet: Any, *names: str) -> list[Any]:
    """The overloads of ``packet`` that this PyTorch has, by name."""
    return [getattr(packet, n) for n in names if n in packet.overloads()]


# --- attention: softmax(q·kᵀ·scale + mask)·v, with its inner values -------------------


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> WithInner:
    """Scaled dot-product attention spelled out; ``inner`` holds ``scores`` (q·kᵀ, the
    ``scores`` site) and ``weights`` (the softmax, an operand of the ``mix`` site)."""
    key, value = _grouped(query, key), _grouped(query, value)
    scores = query @ key.transpose(-2, -1)
    factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    logits = scores * factor
    if is_causal:
        rows, columns = query.size(-2), key.size(-2)
        allowed = torch.ones(rows, columns, dtype=torch.bool, device=query.device).tril()
        logits = logits.masked_fill(~allowed, -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            logits = logits.masked_fill(~attn_mask, -math.inf)
        else:
            logits = logits + attn_mask
    # rows with every key masked give 0, as PyTorch's math kernel does (not NaN)
    weights = torch.softmax(logits, dim=-1)
    weights = torch.where(torch.isnan(weights), torch.zeros_like(weights), weights)
    if dropout_p > 0:
        weights = torch.nn.functional.dropout(weights, dropout_p)
    return WithInner(weights @ value, {"scores": scores, "weights": weights})


def _grouped(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Grouped-query attention: repeat key/value heads to the query's head count."""
    if query.dim() >= 3 and key.dim() >= 3 and key.size(-3) not in (query.size(-3), 1):
        return key.repeat_interleave(query.size(-3) // key.size(-3), dim=-3)
    return key


@explicit(aten.scaled_dot_product_attention.default)
def _sdpa(*args: Any, **kwargs: Any) -> WithInner:
    bound = named_arguments(aten.scaled_dot_product_attention.default, args, kwargs)
    return attention(**bound)


@explicit(*_overloads(aten._scaled_dot_product_attention_math, "default"))
def _sdpa_math(*args: Any, **kwargs: Any) -> WithInner:
    bound = named_arguments(aten._scaled_dot_product_attention_math.default, args, kwargs)
    bound.pop("dropout_mask", None)
    result = attention(**bound)
    return WithInner((result.value, result.inner["weights"]), result.inner)


@explicit(*_overloads(aten._scaled_dot_product_flash_attention_for_cpu, "default"))
def _sdpa_flash_cpu(*args: Any, **kwargs: Any) -> WithInner:
    bound = named_arguments(aten._scaled_dot_product_flash_attention_for_cpu.default, args, kwargs)
    result = attention(**bound)
    factor = bound["scale"] or 1.0 / math.sqrt(bound["query"].size(-1))
    logsumexp = torch.logsumexp(result.inner["scores"] * factor, dim=-1)
    return WithInner((result.value, logsumexp), result.inner)


# --- normalisations: PyTorch's own decompositions have exact nested derivatives --------


def _decomposed(op: Any) -> Callable[..., Any]:
    return decomposition_table[op]


@explicit(aten.layer_norm.default)
def _layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _decomposed(aten.native_layer_norm.default)(input, normalized_shape, weight, bias, eps)[
        0
    ]


@explicit(aten.native_layer_norm.default)
def _native_layer_norm(input, normalized_shape, weight, bias, eps):
    return _decomposed(aten.native_layer_norm.default)(input, normalized_shape, weight, bias, eps)


@explicit(aten.group_norm.default)
def _group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    batch, channels = input.shape[:2]
    spatial = math.prod(input.shape[2:])
    return _decomposed(aten.native_group_norm.default)(
        input, weight, bias, batch, channels, spatial, num_groups, eps
    )[0]


@explicit(aten.native_group_norm.default)
def _native_group_norm(*args):
    return _decomposed(aten.native_group_norm.default)(*args)


@explicit(aten.batch_norm.default)
def _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
                cudnn_enabled=True):  # fmt: skip
    if not training and running_mean is not None and running_var is not None:
        shape = [1, -1] + [1] * (input.dim() - 2)
        scale = torch.rsqrt(running_var + eps).reshape(shape)
        out = (input - running_mean.reshape(shape)) * scale
        if weight is not None:
            out = out * weight.reshape(shape)
        return out if bias is None else out + bias.reshape(shape)
    # training statistics: the running buffers only record, the output never reads them
    return _decomposed(aten.native_batch_norm.default)(
        input, weight, bias, None, None, True, momentum, eps
    )[0]


@explicit(aten.native_batch_norm.default)
def _native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    if not training:
        return _decomposed(aten.native_batch_norm.default)(
            input, weight, bias, running_mean, running_var, training, momentum, eps
        )
    return _decomposed(aten.native_batch_norm.default)(
        input, weight, bias, None, None, True, momentum, eps
    )


for _name in ("no_stats", "default", "no_training"):
    for _packet in (aten._native_batch_norm_legit, aten._native_batch_norm_legit_no_training):
        for _op in _overloads(_packet, _name):
            if _op in decomposition_table and _op not in EXPLICIT:
                EXPLICIT[_op] = decomposition_table[_op]
for _op in _overloads(aten._native_batch_norm_legit_functional, "default"):
    if _op in decomposition_table:
        EXPLICIT[_op] = decomposition_table[_op]


@explicit(aten.instance_norm.default)
def _instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                   eps, cudnn_enabled=True):  # fmt: skip
    shape = [1, -1] + [1] * (input.dim() - 2)
    if use_input_stats:
        dims = tuple(range(2, input.dim()))
        mean = input.mean(dim=dims, keepdim=True)
        centred = input - mean
        variance = (centred * centred).mean(dim=dims, keepdim=True)
        out = centred * torch.rsqrt(variance + eps)
    else:
        out = (input - running_mean.reshape(shape)) * torch.rsqrt(running_var + eps).reshape(shape)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


# --- products of distinct entries: multiplications only ------------------------------


def product(input: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """``prod`` along ``dim`` by pairwise multiplication (exact derivatives at zeros too)."""
    x = input.movedim(dim, -1)
    if x.size(-1) == 0:
        x = torch.ones_like(x[..., :1])
    while x.size(-1) > 1:
        if x.size(-1) % 2:
            x = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)
        x = x[..., 0::2] * x[..., 1::2]
    x = x.squeeze(-1)
    return x.unsqueeze(dim if dim >= 0 else dim + input.dim()) if keepdim else x


@explicit(aten.prod.default)
def _prod_all(input, dtype=None):
    return product(input.reshape(-1) if dtype is None else input.reshape(-1).to(dtype), 0)


@explicit(aten.prod.dim_int)
def _prod(input, dim, keepdim=False, dtype=None):
    return product(input if dtype is None else input.to(dtype), dim, keepdim)


@explicit(aten.cumprod.default)
def _cumprod(input, dim, dtype=None):
    """Hillis–Steele scan of multiplications."""
    x = (input if dtype is None else input.to(dtype)).movedim(dim, -1)
    step = 1
    while step < x.size(-1):
        x = torch.cat([x[..., :step], x[..., step:] * x[..., :-step]], dim=-1)
        step *= 2
    return x.movedim(-1, dim)


def _one_hot_reduce(source: torch.Tensor, index: torch.Tensor, size: int, reduce: str):
    """Reduce ``source[..., i]`` into ``size`` slots by ``index[..., i]`` (last dim).
    Returns the reduction and which slots received anything."""
    hit = index.unsqueeze(-1) == torch.arange(size, device=index.device)  # (..., m, size)
    spread = source.unsqueeze(-1)
    if reduce == "prod":
        reduced = product(torch.where(hit, spread, torch.ones_like(spread)), -2)
    elif reduce in ("amax", "amin"):
        fill = -math.inf if reduce == "amax" else math.inf
        picked = torch.where(hit, spread, torch.full_like(spread, fill))
        reduced = picked.amax(-2) if reduce == "amax" else picked.amin(-2)
    else:  # sum, mean
        reduced = torch.where(hit, spread, torch.zeros_like(spread)).sum(-2)
    return reduced, hit.any(-2), hit.sum(-2)


def _combine(self_, reduced, touched, counts, reduce: str, include_self: bool):
    if reduce == "prod":
        combined = self_ * reduced if include_self else reduced
    elif reduce == "amax":
        combined = torch.maximum(self_, reduced) if include_self else reduced
    elif reduce == "amin":
        combined = torch.minimum(self_, reduced) if include_self else reduced
    elif reduce == "mean":
        total = reduced + self_ if include_self else reduced
        combined = total / (counts + int(include_self)).clamp(min=1).to(total.dtype)
    else:
        combined = self_ + reduced if include_self else reduced
    return torch.where(touched, combined, self_)


@explicit(aten.scatter_reduce.two)
def _scatter_reduce(self, dim, index, src, reduce, include_self=True):
    if reduce != "prod":
        return aten.scatter_reduce.two(self, dim, index, src, reduce, include_self=include_self)
    # scatter iterates over index's shape: the slots of every other dim are index's
    src = src[tuple(slice(0, s) for s in index.shape)]
    moved_self = self.movedim(dim, -1)
    region = tuple(slice(0, s) for s in index.movedim(dim, -1).shape[:-1])
    reduced, touched, counts = _one_hot_reduce(
        src.movedim(dim, -1), index.movedim(dim, -1), moved_self.size(-1), reduce
    )
    part = _combine(moved_self[region], reduced, touched, counts, reduce, include_self)
    if part.shape != moved_self.shape:
        pad = moved_self.clone()
        pad[region] = part
        part = pad
    return part.movedim(-1, dim)


def _scatter_with_reduce(self, dim, index, src, reduce):
    """``scatter(…, reduce=)``: "multiply" is a product of the scattered values."""
    if not isinstance(src, torch.Tensor):
        src = torch.full(index.shape, src, dtype=self.dtype, device=self.device)
    kind = "prod" if reduce == "multiply" else "sum"
    return _scatter_reduce(self, dim, index, src, kind, include_self=True)


@explicit(*_overloads(aten.scatter, "reduce", "value_reduce"))
def _scatter_reduce_functional(self, dim, index, src, reduce):
    return _scatter_with_reduce(self, dim, index, src, reduce)


@explicit(*_overloads(aten.scatter_, "reduce", "value_reduce"))
def _scatter_reduce_in_place(self, dim, index, src, reduce):
    # the written value, without the write: the graph's later readers of ``self`` are
    # the functionalised graph's business (an unfunctionalised one reads this node)
    return _scatter_with_reduce(self, dim, index, src, reduce)


@explicit(aten.scatter_reduce_.two)
def _scatter_reduce_in_place_two(self, dim, index, src, reduce, include_self=True):
    return _scatter_reduce(self, dim, index, src, reduce, include_self)


@explicit(aten.index_reduce.default)
def _index_reduce(self, dim, index, source, reduce, include_self=True):
    moved_self, moved_source = self.movedim(dim, -1), source.movedim(dim, -1)
    reduced, touched, counts = _one_hot_reduce(moved_source, index, moved_self.size(-1), reduce)
    return _combine(moved_self, reduced, touched, counts, reduce, include_self).movedim(-1, dim)


# --- linear algebra by Gaussian elimination (det's nested AD is wrong) -----------------


def _eliminate(a: torch.Tensor, b: torch.Tensor | None = None):
    """Row-reduce ``a`` (and ``b`` alongside) to upper-triangular form with partial
    pivoting. Returns the triangular matrix, ``b`` transformed, and the permutation sign."""
    n = a.size(-1)
    sign = torch.ones(a.shape[:-2], dtype=a.dtype, device=a.device)
    rows = torch.arange(n, device=a.device)
    for k in range(n):
        pivot = a[..., k:, k].abs().argmax(dim=-1) + k  # a data-dependent, discrete choice
        swap = torch.where(rows == k, pivot.unsqueeze(-1), rows)
        swap = torch.where(rows == pivot.unsqueeze(-1), torch.full_like(swap, k), swap)
        a = a.gather(-2, swap.unsqueeze(-1).expand(a.shape))
        if b is not None:
            b = b.gather(-2, swap.unsqueeze(-1).expand(b.shape))
        sign = torch.where(pivot != k, -sign, sign)
        if k + 1 < n:
            factors = a[..., k + 1 :, k : k + 1] / a[..., k : k + 1, k : k + 1]
            a = _subtract_below(a, k, factors)
            if b is not None:
                b = _subtract_below(b, k, factors)
    return a, b, sign


def _subtract_below(m: torch.Tensor, k: int, factors: torch.Tensor) -> torch.Tensor:
    """Rows below ``k`` minus ``factors`` times row ``k``."""
    below = m[..., k + 1 :, :] - factors * m[..., k : k + 1, :]
    return torch.cat([m[..., : k + 1, :], below], dim=-2)


def determinant(a: torch.Tensor) -> torch.Tensor:
    """``det`` as the signed product of the pivots."""
    upper, _, sign = _eliminate(a)
    return sign * product(torch.diagonal(upper, dim1=-2, dim2=-1), -1)


@explicit(aten.linalg_det.default, aten.det.default)
def _det(a):
    return determinant(a)


@explicit(*_overloads(aten._linalg_det, "default"))
def _linalg_det(a):
    native = aten._linalg_det.default(a.detach())
    return (determinant(a), native[1], native[2])


def _slogdet(a):
    upper, _, sign = _eliminate(a)
    diagonal = torch.diagonal(upper, dim1=-2, dim2=-1)
    return sign * product(torch.sign(diagonal), -1), torch.log(diagonal.abs()).sum(-1)


@explicit(aten.linalg_slogdet.default, aten.slogdet.default)
def _linalg_slogdet(a):
    return _slogdet(a)


@explicit(*_overloads(aten._linalg_slogdet, "default"))
def _linalg_slogdet_internal(a):
    native = aten._linalg_slogdet.default(a.detach())
    return (*_slogdet(a), native[2], native[3])


@explicit(aten.logdet.default)
def _logdet(a):
    return torch.log(determinant(a))


def solve(a: torch.Tensor, b: torch.Tensor, left: bool = True) -> torch.Tensor:
    """``linalg.solve`` by elimination and back substitution."""
    if not left:  # X·A = B  <=>  Aᵀ·Xᵀ = Bᵀ
        return solve(a.mT, b.mT).mT
    vector = b.dim() == a.dim() - 1 and b.shape == a.shape[:-1]
    rhs = b.unsqueeze(-1) if vector else b
    rhs = rhs.expand(*a.shape[:-2], *rhs.shape[-2:]) if rhs.dim() < a.dim() else rhs
    upper, rhs, _ = _eliminate(a, rhs)
    n = a.size(-1)
    solution: list[torch.Tensor] = []
    for k in range(n - 1, -1, -1):
        row = rhs[..., k : k + 1, :]
        for j, known in zip(range(n - 1, k, -1), solution, strict=False):
            row = row - upper[..., k : k + 1, j : j + 1] * known
        solution.append(row / upper[..., k : k + 1, k : k + 1])
    x = torch.cat(solution[::-1], dim=-2)
    return x.squeeze(-1) if vector else x


@explicit(aten.linalg_solve.default)
def _linalg_solve(a, b, left=True):
    return solve(a, b, left)


@explicit(*_overloads(aten._linalg_solve_ex, "default"))
def _linalg_solve_ex(a, b, left=True, check_errors=False):
    native = aten._linalg_solve_ex.default(a.detach(), b.detach(), left=left)
    return (solve(a, b, left), *native[1:])


@explicit(aten.linalg_solve_ex.default)
def _linalg_solve_ex_public(a, b, left=True, check_errors=False):
    info = torch.zeros(a.shape[:-2], dtype=torch.int32, device=a.device)
    return (solve(a, b, left), info)


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
