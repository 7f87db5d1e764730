"""Tiny transformers models, built from configs with random weights and analysed."""

from __future__ import annotations

from collections import Counter

import pytest

from analyzer.analysis import analyze_traced
from analyzer.frontend.specs import load_model
from analyzer.frontend.tracing import trace

pytest.importorskip("transformers")

TINY = {
    "gpt2": "n_layer=2 n_embd=32 n_head=2 vocab_size=100 n_positions=64",
    "llama": "num_hidden_layers=2 hidden_size=32 intermediate_size=64 num_attention_heads=4 "
    "num_key_value_heads=2 vocab_size=100",
    "bert": "num_hidden_layers=2 hidden_size=32 intermediate_size=64 num_attention_heads=2 "
    "vocab_size=100",
    "t5": "num_layers=2 num_decoder_layers=2 d_model=32 d_ff=64 num_heads=2 d_kv=16 vocab_size=100",
    "mamba": "num_hidden_layers=2 hidden_size=32 state_size=4 vocab_size=100",
    "mixtral": "num_hidden_layers=2 hidden_size=32 intermediate_size=64 num_attention_heads=4 "
    "num_key_value_heads=2 vocab_size=100 num_local_experts=4 num_experts_per_tok=2",
    "vit": "num_hidden_layers=2 hidden_size=32 intermediate_size=64 num_attention_heads=2 "
    "image_size=32 patch_size=8",
}


def analyse(model_type: str):
    loaded = load_model(f"hf:{model_type}", config=TINY[model_type].split())
    traced = trace(loaded.module, loaded.args, model=loaded.label, example_kwargs=loaded.kwargs)
    return analyze_traced(traced)


def site_counts(result) -> Counter:
    return Counter(site.kind for site in result.sites)


@pytest.mark.parametrize("model_type", ["gpt2", "bert", "vit"])
def test_layer_norm_transformers(model_type: str) -> None:
    result = analyse(model_type)
    counts = site_counts(result)
    assert counts["contraction"] == 4  # one fused attention per layer: scores and mix
    parts = sorted(s.part for s in result.sites if s.kind == "contraction")
    assert parts == ["mix", "mix", "scores", "scores"]
    assert counts["normalization"] == 5  # two layer norms per layer and a final/embedding one
    assert counts["gating"] == 0  # GELU MLPs have no input-by-input product
    assert result.circuit_class == ["matmul", "nonlinearity", "normalization", "transpose"]
    attention = [s for s in result.sites if s.kind == "contraction"]
    assert all(".attention" in result.module_of(s.node) or ".attn" in result.module_of(s.node)
               for s in attention)  # fmt: skip
    assert result.unknown_ops == []


def test_llama_has_swiglu_gating_and_rms_norm() -> None:
    result = analyse("llama")
    counts = site_counts(result)
    assert counts == Counter({"normalization": 5, "contraction": 4, "gating": 2})
    gating = [result.module_of(s.node) for s in result.sites if s.kind == "gating"]
    assert gating == ["layers.0.mlp", "layers.1.mlp"]
    norms = {result.module_of(s.node) for s in result.sites if s.kind == "normalization"}
    assert "layers.0.input_layernorm" in norms and "norm" in norms
    assert "transpose" in result.circuit_class and result.unknown_ops == []


def test_t5_has_relu_mlp_and_rms_norm() -> None:
    result = analyse("t5")
    counts = site_counts(result)
    assert counts["contraction"] == 12  # (2 encoder self, 2 decoder self, 2 cross) × 2 parts
    assert counts["gating"] == 0 and counts["normalization"] == 12
    assert "relu" in result.circuit_class


def test_mamba_multiplies_input_dependent_state() -> None:
    result = analyse("mamba")
    counts = site_counts(result)
    assert counts["gating"] > 0 and counts["contraction"] > 0  # Δ·B·x products, state·C
    assert {"gating", "matmul", "nonlinearity"} <= set(result.circuit_class)
    assert result.unknown_ops == []


def test_mixtral_routes_sparsely_and_gates_experts() -> None:
    result = analyse("mixtral")
    assert "sparsity" in result.circuit_class and "gating" in result.circuit_class
    gating_modules = {result.module_of(s.node) for s in result.sites if s.kind == "gating"}
    assert any("mlp" in m or "moe" in m or "experts" in m for m in gating_modules)
    assert result.unknown_ops == []


def test_hf_models_are_built_on_meta() -> None:
    loaded = load_model("hf:llama", config=TINY["llama"].split())
    assert next(loaded.module.parameters()).device.type == "meta"
