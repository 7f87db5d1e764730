"""S6 — "the paper relating Hopfield networks to transformers": the update is attention.

The modern Hopfield update ``ξ_new = X·softmax(β·Xᵀ·ξ)`` equals scaled dot-product
attention with ``q = ξᵀ``, ``k = v = Xᵀ`` and ``scale = β``; the zoo's Hopfield layer and
transformer block hold the same site kinds; iterating the update never raises the
energy, and one-step retrieval error falls exponentially with β (Ramsauer et al. 2021).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from analyzer.analysis import analyze
from analyzer.claims.core import Check, claim
from analyzer.claims.seed.numeric import FLOAT, IDENTITY, figure_tolerance, relative_error
from analyzer.frontend.zoo import build_zoo_model


def hopfield_update(patterns: torch.Tensor, state: torch.Tensor, beta: float) -> torch.Tensor:
    """``X·softmax(β·Xᵀ·ξ)``: ``patterns`` X is ``(d, N)``, ``state`` ξ is ``(d,)``."""
    return patterns @ torch.softmax(beta * patterns.T @ state, dim=0)


def energy(patterns: torch.Tensor, state: torch.Tensor, beta: float) -> float:
    """``E = −lse(β, Xᵀξ) + ½ξᵀξ + β⁻¹·log N + ½M²``, ``M`` the largest pattern norm."""
    count = patterns.shape[1]
    lse = torch.logsumexp(beta * patterns.T @ state, dim=0) / beta
    largest = patterns.norm(dim=0).max()
    return (-lse + 0.5 * state @ state + math.log(count) / beta + 0.5 * largest**2).item()


@claim(
    "The Hopfield update is attention (the paper relating Hopfield networks to transformers)",
    id="S6",
    expect="holds with caveat",
    identity=True,
    tolerance=IDENTITY,
    precise="ξ_new = X·softmax(β·Xᵀ·ξ) equals scaled_dot_product_attention(q = ξᵀ, k = Xᵀ, "
    "v = Xᵀ, scale = β); the zoo's Hopfield layer and transformer block share their site kinds "
    "(the block's primitive set adds its MLP's relu). Iterating the update never raises the "
    "energy; one-step retrieval error falls exponentially with β.",
    sources=("Ramsauer et al., ICLR 2021 (Hopfield Networks is All You Need)",),
)
def s6_hopfield(check: Check) -> None:
    generator = check.generator()
    d, count, beta = 16, 8, 0.5
    patterns = torch.randn(d, count, generator=generator, dtype=FLOAT)
    state = torch.randn(d, generator=generator, dtype=FLOAT)
    with sdpa_kernel(SDPBackend.MATH):  # the identity is about the math, not a fused kernel
        attention = F.scaled_dot_product_attention(
            state.view(1, 1, 1, d), patterns.T.reshape(1, 1, count, d),
            patterns.T.reshape(1, 1, count, d), scale=beta,
        ).flatten()  # fmt: skip
    check.measure(
        "Hopfield update vs scaled_dot_product_attention (MATH backend)",
        relative_error(hopfield_update(patterns, state, beta), attention),
        note="the seed measured 0.0",
    )  # fmt: skip
    _zoo_share_site_kinds(check)
    _energy_descends(check)
    _retrieval(check)


def _zoo_share_site_kinds(check: Check) -> None:
    hopfield = analyze(*build_zoo_model("hopfield"))
    block = analyze(*build_zoo_model("transformer_block"))
    kinds = [sorted({s.kind for s in a.sites}) for a in (hopfield, block)]
    check.note(
        "zoo",
        {
            "hopfield": {"circuit_class": hopfield.circuit_class, "site_kinds": kinds[0]},
            "transformer_block": {"circuit_class": block.circuit_class, "site_kinds": kinds[1]},
        },
    )
    assert kinds[0] == kinds[1], f"site kinds differ: hopfield {kinds[0]}, block {kinds[1]}"
    extra = set(hopfield.circuit_class) - set(block.circuit_class)
    assert not extra, f"the Hopfield layer has classes the transformer block lacks: {extra}"


def _energy_descends(check: Check, trials: int = 100, steps: int = 10) -> None:
    generator = check.generator(1)
    worst = 0.0
    for _ in range(trials):
        d, count = 8, 6
        beta = float(torch.empty(1).uniform_(0.1, 4, generator=generator))
        patterns = torch.randn(d, count, generator=generator, dtype=FLOAT)
        state = torch.randn(d, generator=generator, dtype=FLOAT)
        previous = energy(patterns, state, beta)
        for _ in range(steps):
            state = hopfield_update(patterns, state, beta)
            current = energy(patterns, state, beta)
            worst = max(worst, (current - previous) / max(1.0, abs(previous)))
            previous = current
    check.measure(
        f"largest energy rise over {steps} updates, {trials} random memories (relative)",
        max(worst, 0.0),
    )  # fmt: skip


def _retrieval(check: Check, separation: float = 6.2) -> None:
    """Stored patterns scaled so that the query pattern's separation ``Δ = x₁ᵀx₁ −
    max_j x₁ᵀx_j`` is ``separation``; the error of one update from ``ξ = x₁``."""
    generator = check.generator(2)
    d, count = 16, 8
    patterns = torch.randn(d, count, generator=generator, dtype=FLOAT)
    overlaps = patterns.T @ patterns[:, 0]
    patterns = patterns * math.sqrt(separation / (overlaps[0] - overlaps[1:].max()).item())
    errors = {}
    for beta, figure in ((1, "1.1e-1"), (2, "6.1e-5"), (4, "8.3e-11")):
        state = patterns[:, 0]
        errors[beta] = (hopfield_update(patterns, state, beta) - state).norm().item()
        check.measure(
            f"one-step retrieval error at β = {beta} (separation {separation})", errors[beta],
            expected=float(figure), tolerance=figure_tolerance(figure),
            note="the seed does not state its patterns; here: 8 normal patterns in 16 dimensions",
        )  # fmt: skip
    rate = math.log(errors[2] / errors[4]) / 2
    check.measure(
        "decay rate of the error from β = 2 to 4, over the separation (exponential: ≈ 1)",
        rate / separation, expected=1.0, tolerance=0.25, relative=True, decides=True,
    )  # fmt: skip


@s6_hopfield.caveat(
    "Values are tied to keys unless a free W_V is used; a transformer layer performs one "
    "update step",
    id="S6.tied",
    identity=True,
    precise="In the pure update the values are the stored patterns themselves (k = v = Xᵀ); with "
    "a free value projection W_V the output is W_V·X·softmax(β·Xᵀ·ξ), no longer a state of the "
    "same memory, and one attention layer applies the update once (a fixed point needs "
    "iterations).",
)
def s6_tied(check: Check) -> None:
    generator = check.generator(3)
    d, count, beta = 16, 8, 0.5
    patterns = torch.randn(d, count, generator=generator, dtype=FLOAT)
    state = torch.randn(d, generator=generator, dtype=FLOAT)
    once = hopfield_update(patterns, state, beta)
    twice = hopfield_update(patterns, once, beta)
    check.measure("‖update² − update¹‖ (one layer is one step, not the fixed point)",
                  (twice - once).norm().item(), tolerance=None)  # fmt: skip
    value = torch.randn(d, d, generator=generator, dtype=FLOAT) / d**0.5
    free = value @ once
    check.measure("‖W_V·update − update‖ with a free value projection", (free - once).norm().item(),
                  tolerance=None)  # fmt: skip
