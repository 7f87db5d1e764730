"""Products of distinct entries, scatter and index reductions, and linear algebra by
Gaussian elimination: ops whose nested forward derivatives PyTorch gets wrong or
misses."""

import math

import torch

from analyzer.empirical.ops.registry import (
    _overloads,
    aten,
    explicit,
)

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
