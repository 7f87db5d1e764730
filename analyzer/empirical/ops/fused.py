"""Fused attention (with its inner values, the operands of its sites) and the fused
normalisations, whose nested forward derivatives PyTorch gets wrong."""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch._decomp import decomposition_table

from analyzer.empirical.ops.registry import (
    EXPLICIT,
    WithInner,
    _overloads,
    aten,
    explicit,
    named_arguments,
)

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
