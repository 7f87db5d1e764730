"""Classes 4 and 5: fused attention is two contraction sites, and which transposes feed one.

Every variant of ``scaled_dot_product_attention`` performs ``Q·Kᵀ`` (part ``scores``) and
``A·V`` (part ``mix``); a 2-layer transformer therefore has four contraction sites. The
rule of docs/concepts.md for ``feeds_contraction``: an operand contracted the other way round
from its natural axis (K along its feature axis, δ along its batch axis) is used transposed;
head and sequence permutes that leave the contracted axis's role alone are layout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tests.adversarial.catalogue import (
    ANY_SITE,
    CONTRACTION,
    Fn,
    attention_parts,
    case,
    feeds,
    no_transpose_class,
    truth,
)

ATTENTION = truth(math.inf, CONTRACTION, min_sites=2)


class Heads(nn.Module):
    """Projections to ``(batch, heads, sequence, head_dim)`` followed by fused attention."""

    def __init__(self, dim: int = 8, heads: int = 2, kv_heads: int = 2, **options) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.options = heads, kv_heads, options
        head_dim = dim // heads
        self.q = nn.Linear(dim, heads * head_dim)
        self.k = nn.Linear(dim, kv_heads * head_dim)
        self.v = nn.Linear(dim, kv_heads * head_dim)
        self.head_dim = head_dim

    def split(self, h: torch.Tensor, heads: int) -> torch.Tensor:
        batch, length, _ = h.shape
        return h.view(batch, length, heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.split(self.q(x), self.heads)
        k = self.split(self.k(x), self.kv_heads)
        v = self.split(self.v(x), self.kv_heads)
        return F.scaled_dot_product_attention(q, k, v, **self.options)


_LAYOUT_HEADS = feeds([False, False, False], implied=[True])


@case("attention", ATTENTION, checks=(attention_parts, _LAYOUT_HEADS))
def sdpa_plain():
    """sdpa(q, k, v) after head transposes: scores and mix sites; the head transposes are
    layout, the implied transpose of K feeds Q·Kᵀ."""
    return Heads(), (torch.randn(1, 4, 8),)


@case("attention", ATTENTION, checks=(attention_parts,))
def sdpa_causal():
    """sdpa(..., is_causal=True)."""
    return Heads(is_causal=True), (torch.randn(1, 4, 8),)


@case("attention", ATTENTION, checks=(attention_parts,))
def sdpa_additive_mask():
    """sdpa(..., attn_mask=static additive mask)."""
    mask = torch.randn(4, 4)
    return Heads(attn_mask=mask), (torch.randn(1, 4, 8),)


@case("attention", ATTENTION, checks=(attention_parts,))
def sdpa_grouped_query():
    """sdpa(..., enable_gqa=True) with 4 query heads sharing 2 key/value heads."""
    return Heads(heads=4, kv_heads=2, enable_gqa=True), (torch.randn(1, 4, 8),)


class StaticAttention(nn.Module):
    """Fused attention where some of query, key and value are parameters."""

    def __init__(self, dynamic: str) -> None:
        super().__init__()
        self.dynamic = dynamic
        self.query, self.key, self.value = (nn.Parameter(torch.randn(1, 2, 4, 4)) for _ in "qkv")
        self.project = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.project(x).view(1, 4, 2, 4).transpose(1, 2)
        if self.dynamic == "mask":  # only the additive mask depends on the input
            mask = h.sum(1)  # (1, 4, 4)
            return F.scaled_dot_product_attention(self.query, self.key, self.value, mask)
        return F.scaled_dot_product_attention(h, self.key, h)  # static keys


@case("attention", truth(math.inf, ANY_SITE))
def sdpa_input_mask_only():
    """sdpa(Q, K, V static, attn_mask=m(x)): softmax(QKᵀ + m(x))·V, not affine in x; the
    softmax normalises an input-dependent value."""
    return StaticAttention("mask"), (torch.randn(1, 4, 8),)


@case("attention", truth(math.inf, CONTRACTION))
def sdpa_static_keys():
    """sdpa(q(x), K static, v(x)): the scores are not input-by-input, the mix is."""
    return StaticAttention("keys"), (torch.randn(1, 4, 8),)


class FastPathAttention(nn.Module):
    """nn.MultiheadAttention called under no_grad in eval mode: its fused fast path."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.attention(x, x, x, need_weights=False)[0]


@case("attention", ATTENTION, checks=(attention_parts,))
def multihead_attention_fast_path():
    """nn.MultiheadAttention's fast path (eval, no_grad, batch_first): still two sites."""
    return FastPathAttention().eval(), (torch.randn(1, 4, 8),)


@case("attention", ATTENTION, checks=(attention_parts,))
def multihead_attention_with_weights():
    """nn.MultiheadAttention(need_weights=True), returning (output, weights)."""
    attention = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    return Fn(lambda m, x: m.attention(x, x, x), attention=attention), (torch.randn(1, 4, 8),)


@case("attention", truth(math.inf, CONTRACTION, min_sites=4), checks=(attention_parts,))
def transformer_two_layers():
    """nn.TransformerEncoder with 2 layers: 2 attentions × (scores, mix) = 4 sites."""
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    return encoder, (torch.randn(1, 4, 8),)


@case("attention", truth(3, CONTRACTION, min_sites=2), checks=(feeds([True]),))
def linear_attention():
    """(q·kᵀ)·v without softmax: degree 3, two contractions, kᵀ feeds the first."""

    def forward(m, x):
        q, k, v = m.q(x), m.k(x), m.v(x)
        return (q @ k.transpose(1, 2)) @ v

    layers = {name: nn.Linear(8, 8) for name in "qkv"}
    return Fn(forward, **layers), (torch.randn(1, 4, 8),)


# --- class 5: feeds_contraction ---------------------------------------------------------
class PermutedHeads(nn.Module):
    """Attention by hand: q and v get head permutes (layout), k is permuted to (b, h, d, s)
    (contracted along its feature axis: transposed), the output is permuted back (layout)."""

    def __init__(self, dim: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        shape = (b, s, self.heads, self.head_dim)
        q = self.q(x).view(shape).permute(0, 2, 1, 3)  # (b, h, s, d): layout
        k = self.k(x).view(shape).permute(0, 2, 3, 1)  # (b, h, d, s): K transposed
        v = self.v(x).view(shape).permute(0, 2, 1, 3)  # (b, h, s, d): layout
        weights = F.softmax(q @ k / math.sqrt(self.head_dim), dim=-1)
        mixed = (weights @ v).permute(0, 2, 1, 3).reshape(b, s, d)  # layout
        return self.out(mixed)


@case("transpose", ATTENTION, checks=(feeds([False, True, False, False]),))
def head_permutes_are_layout():
    """Hand-written attention: only the permute that puts K's feature axis first feeds."""
    return PermutedHeads(), (torch.randn(1, 4, 8),)


@case("transpose", truth(2, CONTRACTION), checks=(feeds([True]),))
def gram_of_samples():
    """x·xᵀ: the right operand is x contracted along its feature axis: transposed."""
    return Fn(lambda m, x: x @ x.T), (torch.randn(4, 3),)


@case("transpose", truth(2, CONTRACTION), checks=(feeds([True]),))
def gram_of_features():
    """xᵀ·x: the left operand is x contracted along its batch axis: transposed."""
    return Fn(lambda m, x: x.T @ x), (torch.randn(4, 3),)


@case("transpose", truth(math.inf, CONTRACTION), checks=(feeds([True]),))
def weight_gradient_outer_product():
    """δᵀ·x with δ = tanh(x·W): the weight-gradient form, δ contracted along its batch axis."""

    def forward(m, x):
        delta = torch.tanh(m.lin(x))
        return delta.transpose(0, 1) @ x

    return Fn(forward, lin=nn.Linear(3, 5)), (torch.randn(4, 3),)


@case("transpose", truth(1), checks=(feeds([False, False]), no_transpose_class))
def mixer_token_mixing():
    """MLP-Mixer token mixing: transpose, a linear with a static weight, transpose back."""

    def forward(m, x):
        return m.tokens(x.transpose(1, 2)).transpose(1, 2)

    return Fn(forward, tokens=nn.Linear(4, 4)), (torch.randn(2, 4, 3),)


@case("transpose", truth(2, CONTRACTION), checks=(feeds([], implied=[True]),))
def linear_with_input_weight():
    """F.linear(x, w) with w an input: x·wᵀ, the implied transpose of w feeds."""
    return Fn(lambda m, x, w: F.linear(x, w)), (torch.randn(2, 4), torch.randn(3, 4))
