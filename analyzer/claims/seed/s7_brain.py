"""S7 — brain-like primitives: "matmul, ReLU, multiplicative gating interactions, and
efficient sparsity".

Which of these primitives a model uses is its primitive set: gating in LSTM, GRU,
SwiGLU, Mamba and mixture-of-experts routing, sparsity in top-k routing, relu in ReLU
MLPs. Caveat: an analogy. Post-ReLU activation sparsity is measured per layer on random
weights and labelled so; the reference figures need trained weights and are not compared.
Given a checkpoint (``claims --weights FOLDER``, ``check.weights``), its own per-layer
figures are measured too, labelled with the checkpoint, and reported, not compared.
"""

from __future__ import annotations

import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.claims.core import Check, claim
from analyzer.claims.model import Model
from analyzer.frontend.zoo import build_zoo_model
from analyzer.testing.strategies import architectures

GATED = ("lstm", "gru", "swiglu", "topk_moe")
ACTIVATION = nn.ReLU  # the sparsity caveat's activation
TRAINED_NONZERO = {"T5-Base": 3.0, "ViT-B/16": 6.3}  # % non-zero after ReLU, Li et al. 2023


@claim(
    "Brain-like primitives: matmul, ReLU, multiplicative gating interactions and efficient "
    "sparsity",
    id="S7",
    expect="holds with caveat",
    precise="Which of these primitives a model uses is its primitive set: gating exactly when it "
    "holds an LSTM, GRU, SwiGLU or top-k mixture-of-experts block, sparsity exactly when it "
    "routes top-k, relu exactly when it holds a ReLU.",
    family=architectures(blocks=["linear", "relu", "lstm", "gru", "swiglu", "topk_moe"]),
    sources=("Li et al., ICLR 2023 (The Lazy Neuron Phenomenon)",),
)
def s7_brain(model: Model) -> None:
    classes = set(model.analysis.circuit_class)
    drawn = model.drawn
    gated = any(drawn.count(kind) for kind in GATED)
    assert ("gating" in classes) == gated, f"gating in {sorted(classes)}, gated blocks: {gated}"
    routed = drawn.count("topk_moe") > 0
    assert ("sparsity" in classes) == routed, f"sparsity in {sorted(classes)}, top-k: {routed}"
    kinked = drawn.count("relu") > 0
    assert ("relu" in classes) == kinked, f"relu in {sorted(classes)}, ReLU blocks: {kinked}"


@s7_brain.part(
    "The zoo's gated models (lstm, gru, swiglu_mlp, mamba_block, moe_topk) use gating; moe_topk "
    "uses sparsity; the ReLU MLP uses relu and neither",
    id="S7.zoo",
    identity=True,
)
def s7_zoo(check: Check) -> None:
    expected = {
        "lstm": {"gating"}, "gru": {"gating"}, "swiglu_mlp": {"gating"}, "mamba_block": {"gating"},
        "moe_topk": {"gating", "sparsity"}, "mlp": {"relu"},
    }  # fmt: skip
    found = {}
    for name, wanted in expected.items():
        classes = set(analyze(*build_zoo_model(name)).circuit_class)
        found[name] = sorted(classes)
        present = classes & {"gating", "sparsity", "relu"}
        assert wanted <= present, f"zoo:{name} uses {sorted(classes)}, expected {sorted(wanted)}"
        if name == "mlp":
            assert not present - wanted, f"the ReLU MLP uses {sorted(present)}"
    check.note("primitive sets", found)


@s7_brain.caveat(
    "An analogy: sparsity figures of brains or trained nets need trained weights",
    id="S7.sparsity",
    identity=True,
    precise="Post-ReLU activation sparsity, measured per layer as the fraction of non-zero "
    "entries, is about one half with random weights (decides: over 4 times the densest "
    "trained figure); the reference figures (3.0 % non-zero in "
    "T5-Base, 6.3 % in ViT-B/16) come from trained weights and are not compared with it.",
    sources=("Li et al., ICLR 2023",),
)
def s7_sparsity(check: Check) -> None:
    generator = check.generator()
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's generator untouched
        torch.manual_seed(check.seed)
        mlp = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(64, 64), ACTIVATION())])
    x = torch.randn(512, 64, generator=generator)
    fractions = []
    with torch.no_grad():
        for index, layer in enumerate(mlp):
            x = layer(x)
            if isinstance(layer, ACTIVATION):
                fractions.append((x != 0).float().mean().item())
                check.measure(
                    f"fraction non-zero after ReLU {index // 2 + 1} (random weights)",
                    fractions[-1], tolerance=None,
                    note="random weights: not comparable with trained-weight figures",
                )  # fmt: skip
    densest_trained = max(TRAINED_NONZERO.values()) / 100
    check.measure("sparsest random-weight layer over the densest trained figure",
                  min(fractions) / densest_trained, tolerance=None)  # fmt: skip
    assert min(fractions) > 4 * densest_trained, (
        f"random weights already give {min(fractions):.1%} non-zero: the analogy's figures "
        "would not need trained weights"
    )
    if check.weights is None:
        for model, figure in TRAINED_NONZERO.items():
            check.measure(
                f"{model}: % non-zero after ReLU (trained weights)", None,
                note=f"not measured: needs trained weights (Li et al. report {figure} %); "
                "give a checkpoint with --weights FOLDER",
            )  # fmt: skip
        return
    _trained_sparsity(check)


def _trained_sparsity(check: Check) -> None:
    """The checkpoint's own post-ReLU fractions, labelled with it: reported, not compared
    with the reference figures (another model, other inputs)."""
    from analyzer.claims.weights import relu_nonzero

    weights = check.weights
    label = f"trained weights: {weights.label}"
    found = relu_nonzero(weights)
    check.note("trained weights", weights.to_json())
    if not found:
        check.measure(
            f"fraction non-zero after ReLU ({label})", None,
            note=f"not measured: the forward of {weights.label} calls no ReLU",
        )  # fmt: skip
    for path, fraction in found:
        check.measure(f"fraction non-zero after ReLU at {path} ({label})", fraction,
                      tolerance=None, note="inputs synthesised, not a data set")  # fmt: skip
    for model, figure in TRAINED_NONZERO.items():
        check.measure(
            f"{model}: % non-zero after ReLU (trained weights)", None,
            note=f"not measured here: Li et al. report {figure} % on {model}'s own weights and "
            f"data; {weights.label}'s figures above are another model on synthesised inputs, "
            "not compared with it",
        )  # fmt: skip
