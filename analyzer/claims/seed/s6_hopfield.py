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
from analyzer.claims.seed.numeric import FLOAT, IDENTITY, relative_error
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
    built = ["contraction", "normalization"]  # X·softmax(β·Xᵀ·ξ): two products, a softmax
    assert kinds[0] == built, f"the zoo's Hopfield layer has site kinds {kinds[0]}, built {built}"
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


RETRIEVAL_PROTOCOL = (
    "S6 protocol: d = 64, N = 200 patterns, i.i.d. Gaussian columns scaled to norm M = 3; "
    "query = pattern 0 plus N(0, 0.05²) noise per entry; one update X·softmax(β·Xᵀ·ξ); error "
    "‖ξ_new − x_0‖; separation Δ = x_0ᵀx_0 − max_{j≠0} x_0ᵀx_j; float64"
)
DECAY_RANGE = (1.00, 1.10)
ERROR_RANGES = {1: (0.094, 0.156), 2: (4.7e-5, 1.8e-4), 4: (4.6e-11, 3.3e-9)}


def reference_retrieval(generator: torch.Generator) -> tuple[dict[int, float], float]:
    """One-step retrieval errors at β = 1, 2, 4 and the separation Δ, under the seed's S6 reference
    protocol."""
    d, count, norm = 64, 200, 3.0
    patterns = torch.randn(d, count, generator=generator, dtype=FLOAT)
    patterns = patterns / patterns.norm(dim=0) * norm
    query = patterns[:, 0] + 0.05 * torch.randn(d, generator=generator, dtype=FLOAT)
    overlaps = patterns.T @ patterns[:, 0]
    separation = (overlaps[0] - overlaps[1:].max()).item()
    errors = {
        beta: (hopfield_update(patterns, query, beta) - patterns[:, 0]).norm().item()
        for beta in (1, 2, 4)
    }
    return errors, separation


def _retrieval(check: Check) -> None:
    """The seed's figures under its reference protocol: the errors at β = 1, 2, 4 and their decay
    rate ``log(e(β=2)/e(β=4)) / (2Δ)``; that the error falls with β decides."""
    errors, separation = reference_retrieval(check.generator(2))
    check.measure("separation Δ (reference protocol)", separation, range=(5.52, 6.52),
                  protocol=RETRIEVAL_PROTOCOL, note="reference: median 5.96")  # fmt: skip
    for beta, errors_range in ERROR_RANGES.items():
        check.measure(
            f"one-step retrieval error at β = {beta} (reference protocol)", errors[beta],
            range=errors_range, protocol=RETRIEVAL_PROTOCOL,
        )  # fmt: skip
    rate = math.log(errors[2] / errors[4]) / (2 * separation)
    check.measure(
        "decay rate log(e(β=2)/e(β=4)) / (2Δ) (reference protocol)", rate, range=DECAY_RANGE,
        protocol=RETRIEVAL_PROTOCOL, note="the seed's reference: median 1.06 over 50 draws",
    )  # fmt: skip
    assert errors[1] > errors[2] > errors[4], f"the error does not fall with β: {errors}"
    assert rate > 0.5, f"the error decays at {rate:.3g}·Δ per unit β, not exponentially"


@s6_hopfield.caveat(
    "Values are tied to keys unless a free W_V is used; a transformer layer performs one "
    "update step",
    id="S6.tied",
    identity=True,
    precise="In the pure update the values are the stored patterns themselves (k = v = Xᵀ): "
    "the output is a convex combination X·p of them (measured: least-squares weights p that "
    "reproduce it to 1e-12, sum to 1 and are non-negative); with a free value projection W_V "
    "the output W_V·X·p leaves the patterns' span, no longer a state of the same memory; one "
    "attention layer applies the update once (a second update still moves the state).",
)
def s6_tied(check: Check) -> None:
    generator = check.generator(3)
    d, count, beta = 16, 8, 0.5
    patterns = torch.randn(d, count, generator=generator, dtype=FLOAT)
    state = torch.randn(d, generator=generator, dtype=FLOAT)
    once = hopfield_update(patterns, state, beta)
    # tied: the output is a convex combination of the stored patterns themselves
    weights = torch.linalg.lstsq(patterns, once.unsqueeze(-1)).solution.squeeze(-1)
    scale = max(1.0, once.abs().max().item())
    check.measure(
        "tied values: ‖X·p − update‖ for the least-squares weights p (in the patterns' span)",
        (patterns @ weights - once).abs().max().item() / scale, tolerance=IDENTITY,
    )  # fmt: skip
    check.measure("tied values: |Σp − 1| (the weights sum to one)",
                  abs(weights.sum().item() - 1.0), tolerance=IDENTITY)  # fmt: skip
    check.measure("tied values: the weights' most negative entry", max(0.0, -weights.min().item()),
                  tolerance=IDENTITY)  # fmt: skip
    # a free value projection leaves the memory: its output is outside the patterns' span
    value = torch.randn(d, d, generator=generator, dtype=FLOAT) / d**0.5
    free = value @ once
    residual = free - patterns @ torch.linalg.lstsq(patterns, free.unsqueeze(-1)).solution[:, 0]
    outside = residual.norm().item() / free.norm().item()
    check.measure("free W_V: distance of W_V·update from the patterns' span (relative)", outside,
                  tolerance=None)  # fmt: skip
    assert outside > 1e-3, f"W_V·update lies in the patterns' span (distance {outside:.3g})"
    twice = hopfield_update(patterns, once, beta)
    step = (twice - once).norm().item()
    check.measure("‖update² − update¹‖ (one layer is one step, not the fixed point)", step,
                  tolerance=None)  # fmt: skip
    assert step > 1e-6, f"a second update moved the state by only {step:.3g}"
