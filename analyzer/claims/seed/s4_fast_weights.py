"""S4 — "ability to learn (or quickly memorize) in the forward pass": linear attention is
a fast-weight memory.

Causal linear attention in its parallel form equals the recurrent fast-weight form
(Schlag, Irie, Schmidhuber 2021); with orthonormal keys a fast-weight memory retrieves
``n ≤ d`` associations exactly, and beyond capacity they interfere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from analyzer.analysis import analyze
from analyzer.claims.core import Check, claim
from analyzer.claims.seed.numeric import FLOAT, IDENTITY, relative_error


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """φ = ELU + 1: positive features, so the normaliser never vanishes."""
    return F.elu(x) + 1


def parallel_form(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``tril(φ(Q)·φ(K)ᵀ)·V / rowsums``."""
    scores = torch.tril(feature_map(q) @ feature_map(k).T)
    return scores @ v / scores.sum(-1, keepdim=True)


def recurrent_form(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``W_i = W_{i−1} + v_i·φ(k_i)ᵀ``, ``z_i = z_{i−1} + φ(k_i)``,
    ``y_i = W_i·φ(q_i) / (z_i·φ(q_i))``."""
    weights = torch.zeros(v.shape[1], k.shape[1], dtype=v.dtype)
    normaliser = torch.zeros(k.shape[1], dtype=v.dtype)
    out = []
    for q_i, k_i, v_i in zip(feature_map(q), feature_map(k), v, strict=True):
        weights = weights + torch.outer(v_i, k_i)
        normaliser = normaliser + k_i
        out.append(weights @ q_i / (normaliser @ q_i))
    return torch.stack(out)


CAPACITY_PROTOCOL = (
    "S4 protocol: d = 16; n ≤ d keys the first n rows of a random orthogonal matrix (QR of "
    "a Gaussian), n > d keys n random unit vectors; values one-hot (V = I_n); "
    "W = Σ v_j·k_jᵀ; error max |K·Wᵀ − V|, float64"
)
CAPACITY_RANGE = (0.63, 0.82)


def memory_keys(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` keys of dimension ``d``: orthonormal rows when ``n ≤ d``, else unit vectors."""
    if n <= d:
        orthogonal, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=FLOAT))
        return orthogonal[:n]
    return F.normalize(torch.randn(n, d, generator=generator, dtype=FLOAT), dim=-1)


def capacity_error(n: int, d: int, generator: torch.Generator) -> float:
    """Store ``n`` one-hot values under ``n`` keys in ``W = Σ v_j·k_jᵀ`` and return
    ``max |K·Wᵀ − V|`` (the seed's S4 reference protocol)."""
    keys = memory_keys(n, d, generator)
    values = torch.eye(n, dtype=FLOAT)
    memory = values.T @ keys  # Σ_j v_j·k_jᵀ, (n, d)
    return (keys @ memory.T - values).abs().max().item()


class _CausalLinearAttention(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return parallel_form(self.q(x), self.k(x), self.v(x))


@claim(
    "Linear attention learns (or quickly memorizes) in the forward pass: it is a fast-weight "
    "memory",
    id="S4",
    identity=True,
    tolerance=IDENTITY,
    precise="Causal linear attention tril(φ(Q)φ(K)ᵀ)·V / rowsums equals the recurrent form "
    "W_i = W_{i−1} + v_i·φ(k_i)ᵀ, z_i = z_{i−1} + φ(k_i), y_i = W_i·φ(q_i) / (z_i·φ(q_i)), "
    "φ = ELU + 1. With orthonormal keys n ≤ d associations are retrieved exactly; beyond "
    "capacity they interfere.",
    sources=("Schlag, Irie, Schmidhuber, ICML 2021",),
)
def s4_fast_weights(check: Check) -> None:
    generator = check.generator()
    tokens, d = 32, 16
    q, k, v = (torch.randn(tokens, d, generator=generator, dtype=FLOAT) for _ in range(3))
    check.measure(
        "parallel vs recurrent causal linear attention", relative_error(parallel_form(q, k, v),
        recurrent_form(q, k, v)), note="the seed measured 2e-15",
    )  # fmt: skip
    # memorising, the reference protocol: W = Σ v_j·k_jᵀ with one-hot values, error max |K·Wᵀ − V|
    exact = capacity_error(d, d, generator)
    check.measure(
        f"retrieval of n = d = {d} associations with orthonormal keys (reference protocol)",
        exact, note="the seed measured 6e-16",
    )  # fmt: skip
    beyond = capacity_error(2 * d, d, generator)
    check.measure(
        f"largest retrieval error of n = {2 * d} > d = {d} associations (reference protocol)",
        beyond, range=CAPACITY_RANGE, protocol=CAPACITY_PROTOCOL,
        note="the seed's reference: median 0.72 over 50 draws, 5th–95th percentile 0.63 … 0.82",
    )  # fmt: skip
    assert beyond > 0.1, f"beyond capacity the retrieval error is only {beyond:.3g}"
    analysis = analyze(_CausalLinearAttention(8), (torch.randn(6, 8),))
    check.note("causal linear attention analysed",
               {"circuit_class": analysis.circuit_class,
                "sites": sorted(s.kind for s in analysis.sites)})  # fmt: skip
    assert any(s.kind == "contraction" for s in analysis.sites), "no dynamic weights found"
