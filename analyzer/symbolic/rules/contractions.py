"""Contractions: einsum, linear, matmul and its batched forms, outer products, bilinear
forms and attention (softmax of the scores, applied to the values)."""

from __future__ import annotations

import math
from typing import Any

import sympy
import torch

from analyzer.errors import SpecError
from analyzer.symbolic.exact import (
    Entry,
    Rat,
    add,
)
from analyzer.symbolic.rules.base import Context, _arg, _charge_rows, _scale, rule
from analyzer.symbolic.rules.reductions import _along, _softmax_entries
from analyzer.symbolic.tensors import (
    SymTensor,
    einsum,
    lift,
    pointwise,
)

# --- contractions ---------------------------------------------------------------------------


def _einsum(context: Context, equation: str, *operands: Any) -> SymTensor:
    tensors = [lift(o, context.ring) for o in operands]
    return einsum(equation, tensors, context.ring, context.budget)


def _plus(context: Context, value: SymTensor, bias: Any, beta: Any = 1) -> SymTensor:
    if bias is None or beta == 0:
        return value
    return pointwise(
        lambda x, b: add(x, _scale(context, b, beta)), [value, lift(bias, context.ring)]
    )


@rule("aten.linear")
def _linear(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    out = _einsum(context, "...i,oi->...o", args[0], args[1])
    return _plus(context, out, _arg(args, kwargs, 2, "bias", None))


@rule("aten.mm", "aten.bmm", "aten.matmul", "aten.dot", "aten.mv", "aten.inner", "aten.vdot")
def _matmul(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _product(context, args[0], args[1])


def _product(context: Context, a: Any, b: Any) -> SymTensor:
    left, right = lift(a, context.ring), lift(b, context.ring)
    if len(left.shape) == 1 and len(right.shape) == 1:
        return _einsum(context, "i,i->", left, right)
    if len(left.shape) == 1:
        return _einsum(context, "i,...ij->...j", left, right)
    if len(right.shape) == 1:
        return _einsum(context, "...ij,j->...i", left, right)
    return _einsum(context, "...ij,...jk->...ik", left, right)


@rule("aten.outer", "aten.ger")
def _outer(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _einsum(context, "i,j->ij", args[0], args[1])


@rule("aten.addmm", "aten.baddbmm", "aten.addmv")
def _addmm(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
    product = _product(context, args[1], args[2])
    if alpha != 1:
        product = pointwise(lambda x: _scale(context, x, alpha), [product])
    return _plus(context, product, args[0], beta)


@rule("aten.einsum")
def _einsum_rule(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _einsum(context, args[0], *args[1])


@rule("aten.bilinear")
def _bilinear(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    out = _einsum(context, "...i,oij,...j->...o", args[0], args[2], args[1])
    return _plus(context, out, _arg(args, kwargs, 3, "bias", None))


@rule("aten.scaled_dot_product_attention")
def _attention(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    query, key, value = (lift(a, context.ring) for a in args[:3])
    mask = _arg(args, kwargs, 3, "attn_mask", None)
    if _arg(args, kwargs, 4, "dropout_p", 0.0):
        raise SpecError(f"expand: {context.node.name} applies dropout (analyse in eval mode)")
    causal = bool(_arg(args, kwargs, 5, "is_causal", False))
    scale = kwargs.get("scale")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    heads = query.shape[-3] if len(query.shape) > 2 else 1
    kv_heads = key.shape[-3] if len(key.shape) > 2 else 1
    if heads != kv_heads:  # grouped-query attention: each key/value head serves a group
        from analyzer.symbolic.tensors import move

        repeat = heads // kv_heads
        key, value = (
            move(torch.repeat_interleave, (t, repeat, -3), {}, context.ring) for t in (key, value)
        )
    scores = _einsum(context, "...qd,...kd->...qk", query, key)
    scores = pointwise(lambda x: _scale(context, x, scale), [scores])
    queries, keys = scores.shape[-2], scores.shape[-1]
    allowed = torch.ones(queries, keys, dtype=torch.bool)
    if causal:
        allowed = torch.ones(queries, keys, dtype=torch.bool).tril()
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        allowed = allowed & mask
        mask = None
    if mask is not None:
        scores = pointwise(add, [scores, lift(mask, context.ring)])
    keep = lift(allowed.to(torch.int64), context.ring)
    # pair each score with its mask bit (broadcast as torch would), then one softmax per row
    paired = pointwise(lambda s, k: (s, k), [scores, keep])
    weights = _along(
        paired, -1, _masked_softmax,
        charge=lambda rows: _charge_rows(context, [[s for s, k in row if k.constant_value() != 0]
                                                   for row in rows]),
    )  # fmt: skip
    return _einsum(context, "...qk,...kd->...qd", weights, value)


def _masked_softmax(row: list[tuple[Entry, Rat]]) -> list[Entry]:
    kept = [i for i, (_, keep) in enumerate(row) if keep.constant_value() != 0]
    values = _softmax_entries([row[i][0] for i in kept], log=False)
    out: list[Entry] = [sympy.Integer(0)] * len(row)
    for i, v in zip(kept, values, strict=True):
        out[i] = v
    return out


# --- identities -------------------------------------------------------------------------------
