"""Reductions and normalisations: sums, extrema, products and variances along axes,
softmax, layer and RMS norm, eval-mode batch norm."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import reduce as fold
from typing import Any

import sympy
import torch

from analyzer.errors import SpecError
from analyzer.frontend.dialect import op_name
from analyzer.symbolic.exact import (
    Entry,
    Rat,
    add,
    as_expr,
    divide,
    mul,
    neg,
    power,
    total,
)
from analyzer.symbolic.rules.base import Context, _arg, _charge_products, _charge_rows, rule
from analyzer.symbolic.rules.elementwise import _exact_or, _max, _min, _rational
from analyzer.symbolic.tensors import (
    SymTensor,
    lift,
    pointwise,
    reduce,
)

# --- reductions and normalisations --------------------------------------------------------


def _dims(value: Any) -> list[int] | None:
    if value is None:
        return None
    return [value] if isinstance(value, int) else list(value)


@rule("aten.sum", "aten.mean", "aten.nansum")
def _sum(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    summed = reduce(tensor, dims, keepdim, lambda items: total(items, context.ring))
    if op_name(context.node) != "aten.mean":
        return summed
    count = tensor.numel // max(summed.numel, 1)
    return pointwise(lambda x: divide(x, context.const(count)), [summed])


@rule("aten.amax", "aten.amin")
def _amax(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    function = _max if op_name(context.node) == "aten.amax" else _min
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    return reduce(tensor, dims, keepdim, lambda items: _exact_or(function, context)(*items))


@rule("aten.prod")
def _prod(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    return reduce(tensor, dims, keepdim, lambda items: fold(mul, items, context.const(1)))


def _variance(context: Context, tensor: SymTensor, dims: list[int] | None, correction: Any,
              keepdim: bool) -> SymTensor:  # fmt: skip
    mean = _sum(context, (tensor, dims, True), {})
    centred = pointwise(lambda x, m: add(x, neg(m)), [tensor, mean])
    _charge_products(context, centred, centred)
    squares = pointwise(lambda x: power(x, 2), [centred])
    summed = reduce(squares, dims, keepdim, lambda items: total(items, context.ring))
    count = tensor.numel // max(summed.numel, 1) - correction
    return pointwise(lambda x: divide(x, context.const(count)), [summed])


@rule("aten.var")
def _var(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    correction = kwargs.get("correction")
    if correction is None:
        unbiased = args[2] if len(args) > 2 and isinstance(args[2], bool) else True
        correction = 1 if unbiased else 0
    keepdim = bool(kwargs.get("keepdim", args[3] if len(args) > 3 else False))
    return _variance(context, tensor, dims, correction, keepdim)


def _exp(value: Entry) -> sympy.Expr:
    """``exp`` of an entry. Of a polynomial that depends on the input, sympy's own
    simplification (it tries ``exp`` of every term and ``logcombine``) cannot change
    anything and takes milliseconds a term: the expression is built as it stands."""
    if isinstance(value, Rat) and not value.is_constant:
        return sympy.exp(value.as_expr(), evaluate=False)
    return sympy.exp(as_expr(value))


def _softmax_entries(items: list[Entry], log: bool) -> list[Entry]:
    exps = [_exp(x) for x in items]
    denominator = sympy.Add(*exps)
    if log:
        return [as_expr(x) - sympy.log(denominator) for x in items]
    return [e / denominator for e in exps]


def _along(
    tensor: SymTensor, dim: int, function: Callable[[list[Entry]], list[Entry]],
    charge: Callable[[list[list[Entry]]], None] | None = None,
):  # fmt: skip
    """Apply a function of whole rows along ``dim`` (softmax, normalisation); ``charge``
    sees every row first, to refuse before any is computed."""
    from analyzer.symbolic.tensors import grid

    rank = len(tensor.shape)
    dim %= max(rank, 1)
    order = [d for d in range(rank) if d != dim] + [dim]
    index = grid(tensor.shape).permute(*order).reshape(-1, tensor.shape[dim]).tolist()
    if charge is not None:
        charge([[tensor.entries[i] for i in row] for row in index])
    entries: list[Entry] = [None] * tensor.numel
    for row in index:
        for position, value in zip(row, function([tensor.entries[i] for i in row]), strict=True):
            entries[position] = value
    return SymTensor(tensor.shape, entries, tensor.origins)


@rule("aten.softmax", "aten._softmax", "aten.log_softmax", "aten._log_softmax")
def _softmax(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    log = "log_softmax" in op_name(context.node)
    return _along(
        lift(args[0], context.ring), args[1], lambda row: _softmax_entries(row, log),
        charge=lambda rows: _charge_rows(context, rows),
    )  # fmt: skip


def _normalise(context: Context, tensor: SymTensor, count: int, centre: bool, eps: float,
               weight: Any, bias: Any) -> SymTensor:  # fmt: skip
    dims = list(range(len(tensor.shape) - count, len(tensor.shape)))
    if centre:
        mean = _sum(context, (tensor, dims, True), {})
        tensor = pointwise(lambda x, m: add(x, neg(m)), [tensor, mean])
    squares = pointwise(lambda x: power(x, 2), [tensor])
    second = reduce(squares, dims, True, lambda items: total(items, context.ring))
    n = math.prod(tensor.shape[d] for d in dims)
    eps_value = _rational(eps)
    out = pointwise(
        lambda x, s: as_expr(x) / sympy.sqrt(as_expr(s) / n + eps_value), [tensor, second]
    )
    if weight is not None:
        out = pointwise(mul, [out, lift(weight, context.ring)])
    if bias is not None:
        out = pointwise(add, [out, lift(bias, context.ring)])
    return out


@rule("aten.layer_norm")
def _layer_norm(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    shape = list(args[1])
    weight, bias = _arg(args, kwargs, 2, "weight", None), _arg(args, kwargs, 3, "bias", None)
    eps = _arg(args, kwargs, 4, "eps", 1e-5)
    return _normalise(context, tensor, len(shape), True, eps, weight, bias)


@rule("aten.rms_norm")
def _rms_norm(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    shape = list(args[1])
    weight = _arg(args, kwargs, 2, "weight", None)
    eps = _arg(args, kwargs, 3, "eps", None)
    eps = float(torch.finfo(torch.float32).eps) if eps is None else eps
    return _normalise(context, tensor, len(shape), False, eps, weight, None)


@rule("aten.batch_norm", "aten._native_batch_norm_legit_no_training", "aten.native_batch_norm")
def _batch_norm(context: Context, args: tuple, kwargs: dict) -> Any:
    """Eval mode: ``x·s + t`` per channel (axis 1) with ``s = w/√(var+ε)`` and
    ``t = b − mean·s`` from the running statistics, each the rational its float64 holds."""
    name = op_name(context.node)
    x, weight, bias, mean, var = (args + (None,) * 5)[:5]
    if name == "aten._native_batch_norm_legit_no_training":
        training, eps = False, _arg(args, kwargs, 6, "eps", 1e-5)
    else:
        training, eps = _arg(args, kwargs, 5, "training", False), _arg(args, kwargs, 7, "eps", 1e-5)
    if training or not isinstance(mean, torch.Tensor) or not isinstance(var, torch.Tensor):
        raise SpecError(
            f"expand: {context.node.name} ({name}) normalises by batch statistics (training "
            "mode): analyse the model in eval mode, where batch norm is affine"
        )
    if isinstance(weight, SymTensor) or isinstance(bias, SymTensor):
        raise SpecError(f"expand: {context.node.name} ({name}) has input-dependent weights")
    channels = mean.numel()
    scale = torch.ones(channels, dtype=torch.float64) / torch.sqrt(var.double() + eps)
    if weight is not None:
        scale = scale * weight.double()
    shift = -mean.double() * scale + (bias.double() if bias is not None else 0)
    tensor = lift(x, context.ring)
    trailing = [1] * max(len(tensor.shape) - 2, 0)
    out = pointwise(
        lambda v, s, t: add(mul(v, s), t),
        [tensor, lift(scale.reshape(channels, *trailing), context.ring),
         lift(shift.reshape(channels, *trailing), context.ring)],
    )  # fmt: skip
    if name == "aten.batch_norm":
        return out
    return out, torch.empty(0), torch.empty(0)
