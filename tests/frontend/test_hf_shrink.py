"""Shrinking transformers configs: one layer of every kind is kept, and the kind of circuit
does not change (the oracle: the same model analysed less shrunk)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.frontend.hf_shrink import SHRUNK_LAYERS, kept_layers, shrink_config

transformers = pytest.importorskip("transformers")


@given(st.lists(st.sampled_from(["linear", "full", "sliding"]), min_size=3, max_size=40))
@settings(max_examples=60, deadline=None)
def test_every_kind_of_layer_is_kept_once(layer_types: list[str]) -> None:
    kept = kept_layers({"layer_types": layer_types}, len(layer_types))
    assert {layer_types[i] for i in kept} == set(layer_types)
    assert len(kept) == max(len(set(layer_types)), min(SHRUNK_LAYERS, len(layer_types)))
    assert kept == sorted(set(kept))
    first = {kind: layer_types.index(kind) for kind in set(layer_types)}
    assert set(first.values()) <= set(kept)  # the first layer of each kind


def test_index_lists_and_per_layer_dicts_follow_the_kept_layers() -> None:
    document = {
        "num_hidden_layers": 12,
        "layer_types": ["a"] * 12,
        "moe_layers": [3, 7, 11],
        "per_layer_config": {"7": {"x": 1}},
    }
    kept = kept_layers(document, 12)
    assert kept == [0, 3, 7]  # dense, MoE without per-layer config, MoE with it
    config = transformers.LlamaConfig()
    document = config.to_dict() | {"layer_types": ["full_attention"] * 32}
    assert kept_layers(document, 32) == [0, 1]


def test_hybrid_models_keep_an_attention_layer() -> None:
    config = transformers.AutoConfig.for_model("olmo_hybrid")
    small, _changed = shrink_config(config, "olmo_hybrid", "layers")
    assert small.num_hidden_layers == 2
    assert (
        set(small.layer_types) == set(config.layer_types) == {"linear_attention", "full_attention"}
    )
    jamba, _ = shrink_config(transformers.AutoConfig.for_model("jamba"), "jamba", "layers")
    assert set(jamba.layers_block_type) == {"attention", "mamba"}
    assert set(jamba.layers_num_experts) == {1, jamba.num_experts}


def test_backbone_outputs_follow_the_kept_stages() -> None:
    small, changed = shrink_config(transformers.AutoConfig.for_model("beit"), "beit", "layers")
    assert small.num_hidden_layers == 2 and changed == {"num_hidden_layers": 2}


def test_widths_keep_the_head_size_and_grouping() -> None:
    config = transformers.LlamaConfig(num_key_value_heads=8)
    small, _changed = shrink_config(config, "llama", "widths")
    head = config.hidden_size // config.num_attention_heads
    assert small.hidden_size // small.num_attention_heads == head
    assert small.num_attention_heads == 2 and small.num_key_value_heads == 1  # still grouped
    assert small.intermediate_size * config.hidden_size == pytest.approx(
        config.intermediate_size * small.hidden_size, rel=0.01
    )
    moe, _ = shrink_config(transformers.AutoConfig.for_model("qwen3_moe"), "q", "widths")
    assert moe.num_experts == 4 and moe.num_experts_per_tok == 2


def test_user_overrides_are_left_alone() -> None:
    config = transformers.LlamaConfig(num_hidden_layers=5)
    small, changed = shrink_config(config, "llama", "widths", keep={"num_hidden_layers"})
    assert small.num_hidden_layers == 5 and "num_hidden_layers" not in changed


@pytest.mark.parametrize("model_type", ["llama", "mixtral", "deepseek_v3"])
def test_shrinking_does_not_change_the_kind_of_circuit(model_type: str) -> None:
    """Oracle: the widths-shrunk model against the same architecture with four layers
    and its own widths: same primitive set, same site kinds, sites per layer alike."""
    from analyzer.analysis import analyze_traced
    from analyzer.frontend.hf import build_hf_model
    from analyzer.frontend.tracing import trace

    def analysed(**options):
        built = build_hf_model(model_type, **options)
        traced = trace(built.module, (), example_kwargs=built.inputs)
        return analyze_traced(traced)

    small = analysed(shrink="widths")
    layers = {
        "deepseek_v3": {"num_hidden_layers": 4, "first_k_dense_replace": 1, "n_group": 1}
        | {"topk_group": 1}
    }.get(model_type, {"num_hidden_layers": 4})
    if model_type in ("mixtral", "deepseek_v3"):  # a few experts keep the wide one cheap
        key = "num_local_experts" if model_type == "mixtral" else "n_routed_experts"
        layers = {**layers, key: 8}
    wide = analysed(shrink=None, **{"overrides": layers})
    assert small.circuit_class == wide.circuit_class
    small_kinds = Counter(s.kind for s in small.sites)
    wide_kinds = Counter(s.kind for s in wide.sites)
    assert set(small_kinds) == set(wide_kinds)
    assert small.degree == wide.degree
