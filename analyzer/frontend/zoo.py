"""The reference zoo: small models of each circuit class, with their expected verdicts.

Each entry builds ``(module, example_args)`` with random weights and states what the
analysis must find: the primitive set, the kinds of input-by-input sites and the
degree. The tests hold the analysis to these verdicts; ``analyzer zoo`` prints them.

>>> sorted(ZOO)[:3]
['bilinear', 'convnet', 'elman_rnn']
>>> ZOO["mlp"].verdict.circuit_class
('matmul', 'relu')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from analyzer.errors import SpecError

D, T, B = 16, 6, 2  # width, sequence length, batch


@dataclass(frozen=True)
class Verdict:
    """What the analysis of a zoo model must say."""

    circuit_class: tuple[str, ...]
    site_kinds: tuple[str, ...]  # the distinct kinds of input_products, sorted
    degree: str
    why: str


@dataclass(frozen=True)
class ZooModel:
    """A reference model: how to build it and its expected verdict."""

    name: str
    build: Callable[[], tuple[nn.Module, tuple[Any, ...]]]
    verdict: Verdict


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(D, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )  # fmt: skip
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class Recurrent(nn.Module):
    """A batch-first recurrent layer (RNN, LSTM or GRU) and a linear read-out."""

    def __init__(self, cell: type[nn.Module]) -> None:
        super().__init__()
        self.rnn = cell(D, D, batch_first=True)
        self.head = nn.Linear(D, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0])


class LinearAttention(nn.Module):
    """Softmax-free attention: ``q · (kᵀ · v)``, a cubic polynomial of the input."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(x), self.k(x), self.v(x)
        return q @ (k.transpose(-2, -1) @ v) / x.shape[1]


class Hopfield(nn.Module):
    """A modern Hopfield layer (Ramsauer et al. 2020): state patterns ``R`` retrieve
    from stored patterns ``Y`` by ``softmax(β R Yᵀ) Y``, both projected from the input."""

    def __init__(self, beta: float = 0.25, width: int = D, out: int = D) -> None:
        super().__init__()
        self.beta = beta
        self.state = nn.Linear(width, width)
        self.stored = nn.Linear(width, width)
        self.project = nn.Linear(width, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, stored = self.state(x), self.stored(x)
        association = torch.softmax(self.beta * state @ stored.transpose(-2, -1), dim=-1)
        return association @ self.project(stored)


class SwiGluMlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate, self.up, self.down = nn.Linear(D, 32), nn.Linear(D, 32), nn.Linear(32, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


def route_top_k(x: torch.Tensor, router: nn.Module, experts: nn.ModuleList, k: int) -> torch.Tensor:
    """Each expert's output scaled by a softmax over the ``k`` top router logits (zero for
    the experts not chosen), summed: a mixture of experts combined densely, so its shapes
    do not depend on the data.

    >>> experts = nn.ModuleList(nn.Linear(3, 2) for _ in range(4))
    >>> route_top_k(torch.ones(5, 3), nn.Linear(3, 4), experts, 2).shape
    torch.Size([5, 2])
    """
    logits = router(x)
    top, chosen = logits.topk(k, dim=-1)
    gates = torch.zeros_like(logits).scatter(-1, chosen, torch.softmax(top, dim=-1))
    outputs = torch.stack([expert(x) for expert in experts], dim=-1)
    return (outputs * gates.unsqueeze(-2)).sum(-1)


class TopKMoE(nn.Module):
    """Top-2 routing over 4 ReLU experts, combined densely (no data-dependent shapes)."""

    def __init__(self, experts: int = 4, k: int = 2) -> None:
        super().__init__()
        self.k = k
        self.router = nn.Linear(D, experts)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(D, 32), nn.ReLU(), nn.Linear(32, D)) for _ in range(experts)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return route_top_k(x, self.router, self.experts, self.k)


class BilinearLayer(nn.Module):
    def __init__(self, width: int = D, out: int = 4) -> None:
        super().__init__()
        self.left, self.right = nn.Linear(width, width), nn.Linear(width, width)
        self.form = nn.Bilinear(width, width, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.form(self.left(x), self.right(x))


class MixerBlock(nn.Module):
    """An MLP-Mixer block: token mixing through a layout transpose, then channel mixing."""

    def __init__(self) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.tokens = nn.Sequential(nn.Linear(T, 32), nn.GELU(), nn.Linear(32, T))
        self.channels = nn.Sequential(nn.Linear(D, 32), nn.GELU(), nn.Linear(32, D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channels(self.norm2(x))


class SelectiveSSM(nn.Module):
    """A Mamba-like selective state-space block: input-dependent step ``Δ``, ``B`` and
    ``C``, a sequential scan, and a SiLU output gate."""

    def __init__(self, state: int = 4) -> None:
        super().__init__()
        self.in_proj = nn.Linear(D, 2 * D)
        self.dt_proj = nn.Linear(D, D)
        self.b_proj, self.c_proj = nn.Linear(D, state), nn.Linear(D, state)
        self.a_log = nn.Parameter(torch.zeros(D, state))
        self.out_proj = nn.Linear(D, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, z = self.in_proj(x).chunk(2, dim=-1)
        delta = F.softplus(self.dt_proj(u))  # (B, T, D)
        b, c = self.b_proj(u), self.c_proj(u)  # (B, T, N)
        a = -torch.exp(self.a_log)  # (D, N), static
        h = torch.zeros(x.shape[0], x.shape[2], a.shape[1], device=x.device, dtype=x.dtype)
        ys = []
        for t in range(x.shape[1]):
            decay = torch.exp(delta[:, t, :, None] * a)
            h = decay * h + delta[:, t, :, None] * b[:, t, None, :] * u[:, t, :, None]
            ys.append((h * c[:, t, None, :]).sum(-1))
        return self.out_proj(torch.stack(ys, dim=1) * F.silu(z))


class HyperNetwork(nn.Module):
    """A layer whose weight matrix is generated from the input itself."""

    def __init__(self) -> None:
        super().__init__()
        self.hyper = nn.Linear(D, D * D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.hyper(x.mean(dim=1)).view(x.shape[0], D, D)
        return torch.bmm(x, weight.transpose(1, 2))


def _sequence() -> tuple[torch.Tensor]:
    return (torch.randn(B, T, D),)


def _entry(
    name: str, make: Callable[[], nn.Module], circuit: str, sites: str, degree: str, why: str,
    inputs: Callable[[], tuple[Any, ...]] = _sequence,
) -> ZooModel:  # fmt: skip
    verdict = Verdict(tuple(circuit.split()), tuple(sites.split()), degree, why)
    return ZooModel(name, lambda: (make().eval(), inputs()), verdict)


ZOO: dict[str, ZooModel] = {
    z.name: z
    for z in [
        _entry("mlp", Mlp, "matmul relu", "", "1", "fixed weights and ReLU: piecewise affine"),
        _entry(
            "convnet",
            ConvNet,
            "matmul relu",
            "",
            "1",
            "convolutions, ReLU, max- and average-pooling: piecewise affine",
            inputs=lambda: (torch.randn(B, 3, 8, 8),),
        ),
        _entry(
            "elman_rnn",
            lambda: Recurrent(nn.RNN),
            "matmul nonlinearity",
            "",
            "inf",
            "tanh recurrence with fixed weights: no input-by-input product",
        ),
        _entry(
            "lstm",
            lambda: Recurrent(nn.LSTM),
            "gating matmul nonlinearity",
            "gating",
            "inf",
            "LSTM gates multiply sigmoid(x) by other functions of x",
        ),
        _entry(
            "gru",
            lambda: Recurrent(nn.GRU),
            "gating matmul nonlinearity",
            "gating",
            "inf",
            "GRU update and reset gates are input-by-input products",
        ),
        _entry(
            "transformer_block",
            lambda: nn.TransformerEncoderLayer(D, 4, 32, dropout=0.0, batch_first=True),
            "matmul normalization relu transpose",
            "contraction normalization",
            "inf",
            "attention: Q·Kᵀ and softmax·V are dynamic weights; layer norm",
        ),
        _entry(
            "linear_attention",
            LinearAttention,
            "matmul transpose",
            "contraction",
            "3",
            "softmax-free attention q·(kᵀ·v): a cubic polynomial with dynamic weights",
        ),
        _entry(
            "hopfield",
            Hopfield,
            "matmul normalization transpose",
            "contraction normalization",
            "inf",
            "modern Hopfield retrieval is attention: softmax(β R Yᵀ) Y",
        ),
        _entry(
            "swiglu_mlp",
            SwiGluMlp,
            "gating matmul nonlinearity",
            "gating",
            "inf",
            "SwiGLU multiplies silu(x W) by x V",
        ),
        _entry(
            "moe_topk",
            TopKMoE,
            "gating matmul normalization relu sparsity",
            "gating normalization",
            "inf",
            "top-k routing selects experts; router weights (a softmax) gate outputs",
        ),
        _entry(
            "bilinear",
            BilinearLayer,
            "matmul",
            "contraction",
            "2",
            "a bilinear form of two projections of x: degree 2, no kink",
        ),
        _entry(
            "mlp_mixer",
            MixerBlock,
            "matmul nonlinearity normalization",
            "normalization",
            "inf",
            "token mixing transposes activations only for layout: weights stay fixed",
        ),
        _entry(
            "mamba_block",
            SelectiveSSM,
            "gating matmul nonlinearity",
            "gating",
            "inf",
            "input-dependent Δ, B, C multiply the state and the input (selective scan)",
        ),
        _entry(
            "hypernetwork",
            HyperNetwork,
            "matmul transpose",
            "contraction",
            "2",
            "weights generated from the input, transposed and contracted with it",
        ),
    ]
}


def build_zoo_model(name: str) -> tuple[nn.Module, tuple[Any, ...]]:
    """Build the zoo model ``name`` with random weights and example inputs."""
    if name not in ZOO:
        raise SpecError(f"unknown zoo model {name!r}; the zoo has: {', '.join(sorted(ZOO))}")
    return ZOO[name].build()
