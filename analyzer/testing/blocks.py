"""The building blocks of drawn architectures, each declaring what it adds to the truth.

Every block maps a sequence batch ``(batch, time, features)`` to another with the same
batch and time; it states, by construction, the primitive classes it contributes, the
input-by-input sites it holds (kind → count), the factor by which it multiplies the
polynomial degree (``INF`` for a smooth nonlinearity or a normalisation) and whether it
kinks (ReLU-like or a data-dependent selection). :mod:`analyzer.testing.strategies`
composes them; the truth of a composition follows from these declarations alone.

>>> BLOCKS["lstm"].classes == {"gating", "matmul", "nonlinearity"}
True
>>> module = build_block(Block("linear_attention", 2, 2), time=3)
>>> module(torch.randn(1, 3, 2)).shape
torch.Size([1, 3, 2])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from analyzer.frontend.zoo import BilinearLayer, Hopfield, route_top_k

INF = math.inf


@dataclass(frozen=True)
class Block:
    """One drawn block: its kind, its feature sizes in and out, and (for ``residual``) the
    blocks it wraps. Options are fixed per kind so that a block is named by its sizes."""

    kind: str
    d_in: int
    d_out: int
    inner: tuple[Block, ...] = ()

    def __repr__(self) -> str:  # hypothesis prints counterexamples with this
        inner = f", inner={list(self.inner)!r}" if self.inner else ""
        return f"Block({self.kind!r}, {self.d_in}, {self.d_out}{inner})"


@dataclass(frozen=True)
class BlockKind:
    """What a kind of block is, and what it adds to the truth of a model that holds it."""

    name: str
    words: str  # how a counterexample names it: "LSTM layer"
    classes: frozenset[str]
    sites: dict[str, int] = field(default_factory=dict)  # site kind -> count per block
    degree: float = 1  # the factor it multiplies the degree by
    piecewise: bool = False
    resizes: bool = False  # whether d_out is drawn (else it equals d_in)
    polynomial: bool = True  # degree finite and the map is a polynomial of its input
    build: Callable[[int, int, int], nn.Module] | None = field(default=None, repr=False)


# --- the blocks (time-major layers see the features as channels) -----------------------


class _ChannelsFirst(nn.Module):
    """Apply a channels-first layer (conv, pooling, batch norm) to ``(batch, time, d)``:
    the transposes only move the feature axis; the layer's weights stay fixed."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.transpose(1, 2)).transpose(1, 2)


class _Recurrent(nn.Module):
    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.rnn = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class _Attention(nn.Module):
    """Single-head softmax self-attention, written out: ``softmax(q·kᵀ/√d)·v``."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.q, self.k, self.v = (
            nn.Linear(d_in, d_in),
            nn.Linear(d_in, d_in),
            nn.Linear(d_in, d_out),
        )
        self.scale = 1 / math.sqrt(d_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.q(x) @ self.k(x).transpose(-2, -1) * self.scale
        return torch.softmax(scores, dim=-1) @ self.v(x)


class _LinearAttention(nn.Module):
    """Softmax-free attention ``q·(kᵀ·v)``: a cubic polynomial with dynamic weights."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.q, self.k, self.v = (
            nn.Linear(d_in, d_in),
            nn.Linear(d_in, d_in),
            nn.Linear(d_in, d_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.q(x) @ (self.k(x).transpose(-2, -1) @ self.v(x))


class _SwiGlu(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        hidden = max(d_in, d_out)
        self.gate, self.up = nn.Linear(d_in, hidden), nn.Linear(d_in, hidden)
        self.down = nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class _TopKMoE(nn.Module):
    """Top-2 routing over three linear experts, the chosen router weights (a softmax over
    the two top logits: with one, the softmax would be the constant 1 and gate nothing)
    scaling the experts' outputs; combined densely (static shapes)."""

    def __init__(self, d_in: int, d_out: int, experts: int = 3, k: int = 2) -> None:
        super().__init__()
        self.k = k
        self.router = nn.Linear(d_in, experts)
        self.experts = nn.ModuleList(nn.Linear(d_in, d_out) for _ in range(experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return route_top_k(x, self.router, self.experts, self.k)


class _SequenceLayerNorm(nn.Module):
    """Layer norm over time and features together: never a single entry, so never the
    constant that a one-feature layer norm would be."""

    def __init__(self, time: int, d: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm((time, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def _batch_norm(d: int) -> nn.Module:
    """Eval-mode batch norm with non-trivial running statistics: an affine map."""
    norm = nn.BatchNorm1d(d)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    return _ChannelsFirst(norm)


def _residual_placeholder(d_in: int, d_out: int, time: int) -> nn.Module:
    raise AssertionError("residual blocks are built from their inner blocks")


def _kind(name: str, words: str, classes: str, **rest: object) -> BlockKind:
    return BlockKind(name, words, frozenset(classes.split()), **rest)  # type: ignore[arg-type]


BLOCKS: dict[str, BlockKind] = {
    k.name: k
    for k in [
        _kind("linear", "linear layer", "matmul", resizes=True,
              build=lambda i, o, t: nn.Linear(i, o)),
        _kind("conv", "convolution over time", "matmul", resizes=True,
              build=lambda i, o, t: _ChannelsFirst(nn.Conv1d(i, o, 3, padding=1))),
        _kind("relu", "ReLU", "relu", piecewise=True, build=lambda i, o, t: nn.ReLU()),
        _kind("maxpool", "max-pooling over time", "relu", piecewise=True,
              build=lambda i, o, t: _ChannelsFirst(nn.MaxPool1d(3, stride=1, padding=1))),
        _kind("avgpool", "average pooling over time", "",
              build=lambda i, o, t: _ChannelsFirst(nn.AvgPool1d(3, stride=1, padding=1))),
        _kind("residual", "residual block", "", build=_residual_placeholder),
        _kind("layernorm", "layer norm over time and features", "normalization",
              sites={"normalization": 1}, degree=INF, polynomial=False,
              build=lambda i, o, t: _SequenceLayerNorm(t, i)),
        _kind("batchnorm", "batch norm (eval mode)", "", build=lambda i, o, t: _batch_norm(i)),
        _kind("gelu", "GELU", "nonlinearity", degree=INF, polynomial=False,
              build=lambda i, o, t: nn.GELU()),
        _kind("tanh", "tanh", "nonlinearity", degree=INF, polynomial=False,
              build=lambda i, o, t: nn.Tanh()),
        _kind("rnn", "Elman RNN layer (ReLU)", "matmul relu", piecewise=True, resizes=True,
              build=lambda i, o, t: _Recurrent(nn.RNN(i, o, nonlinearity="relu",
                                                      batch_first=True))),
        _kind("lstm", "LSTM layer", "gating matmul nonlinearity", sites={"gating": 1},
              degree=INF, polynomial=False, resizes=True,
              build=lambda i, o, t: _Recurrent(nn.LSTM(i, o, batch_first=True))),
        _kind("gru", "GRU layer", "gating matmul nonlinearity", sites={"gating": 1},
              degree=INF, polynomial=False, resizes=True,
              build=lambda i, o, t: _Recurrent(nn.GRU(i, o, batch_first=True))),
        _kind("attention", "softmax attention layer", "matmul normalization transpose",
              sites={"contraction": 2, "normalization": 1}, degree=INF, polynomial=False,
              resizes=True, build=lambda i, o, t: _Attention(i, o)),
        _kind("linear_attention", "linear attention layer", "matmul transpose",
              sites={"contraction": 2}, degree=3, resizes=True,
              build=lambda i, o, t: _LinearAttention(i, o)),
        _kind("swiglu", "SwiGLU layer", "gating matmul nonlinearity", sites={"gating": 1},
              degree=INF, polynomial=False, resizes=True, build=lambda i, o, t: _SwiGlu(i, o)),
        _kind("bilinear", "bilinear layer", "matmul", sites={"contraction": 1}, degree=2,
              resizes=True, build=lambda i, o, t: BilinearLayer(i, o)),
        _kind("topk_moe", "top-2 mixture of three experts", "gating matmul normalization sparsity",
              sites={"gating": 1, "normalization": 1}, degree=INF, polynomial=False,
              piecewise=True, resizes=True, build=lambda i, o, t: _TopKMoE(i, o)),
        _kind("hopfield", "modern Hopfield layer", "matmul normalization transpose",
              sites={"contraction": 2, "normalization": 1}, degree=INF, polynomial=False,
              resizes=True, build=lambda i, o, t: Hopfield(0.5, i, o)),
    ]
}  # fmt: skip
"""Every block kind by name, in the order strategies shrink towards (simplest first)."""


class _Residual(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


def build_block(block: Block, time: int) -> nn.Module:
    """The module of ``block`` for sequences of length ``time`` (random weights from
    torch's global generator: seed it for a reproducible build)."""
    if block.kind == "residual":
        return _Residual(nn.Sequential(*(build_block(b, time) for b in block.inner)))
    build = BLOCKS[block.kind].build
    assert build is not None
    return build(block.d_in, block.d_out, time)
