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


# deepseek_v3 (the slowest test of the suite: its full-width layers) only in the slow run;
# mixtral keeps the experts' shrinking in the default one
@pytest.mark.parametrize(
    "model_type", ["llama", "mixtral", pytest.param("deepseek_v3", marks=pytest.mark.slow)]
)
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


def test_an_unset_routing_count_routes_to_two_when_experts_are_configured() -> None:
    """DeepSeek-V2's default config routes to None (its forward calls topk(k=None)): the
    shrunk config routes to two of its four experts; a dense config is left dense."""
    config = transformers.AutoConfig.for_model("deepseek_v2")
    assert config.num_experts_per_tok is None
    small, changed = shrink_config(config, "deepseek_v2", "widths")
    assert small.num_experts_per_tok == 2 and small.n_routed_experts == 4
    assert changed["num_experts_per_tok"] == 2
    _dense, changed = shrink_config(transformers.LlamaConfig(), "llama", "widths")
    assert "num_experts_per_tok" not in changed


def test_an_unset_placeholder_id_becomes_the_last_text_id() -> None:
    """BLIP-2's default image_token_index is None (its forward compares ids with None):
    the shrunk config puts it at the end of the text vocabulary, as the checkpoints do."""
    config = transformers.AutoConfig.for_model("blip-2")
    small, changed = shrink_config(config, "blip-2", "layers")
    vocab = small.text_config.vocab_size
    assert small.image_token_index == vocab - 1 == changed["image_token_index"]
    kept, _ = shrink_config(config, "blip-2", "layers", keep={"image_token_index"})
    assert kept.image_token_index is None


@pytest.mark.parametrize("model_type", ["glm4v_text", "glm4v_moe_text", "glm_image_text"])
def test_checkpoint_settings_make_the_rotary_cover_its_sections(model_type: str) -> None:
    """Oracle: the rotary's mrope sections must sum to half the rotated width, which the
    default config misses (transformers' own forward fails); the documented checkpoint
    setting makes it so, and the real forward runs."""
    import torch

    small, _ = shrink_config(transformers.AutoConfig.for_model(model_type), model_type, "widths")
    head = getattr(small, "head_dim", None) or small.hidden_size // small.num_attention_heads
    rotated = int(head * small.rope_parameters.get("partial_rotary_factor", 1.0))
    assert rotated // 2 == sum(small.rope_parameters.get("mrope_section", [8, 12, 12]))
    model = transformers.AutoModel.from_config(small).eval()
    with torch.no_grad():
        model(input_ids=torch.randint(0, 100, (1, 4)))


def test_checkpoint_settings_reach_sub_configs_by_their_own_type() -> None:
    """GLM-4.1V's text tower is a ``glm4v_text`` config: it gets that type's setting, and
    the whole vision-language model then builds small enough to run on the cpu."""
    small, changed = shrink_config(transformers.AutoConfig.for_model("glm4v"), "glm4v", "widths")
    assert small.text_config.rope_parameters["partial_rotary_factor"] == 0.5
    assert "text_config.rope_parameters" in changed
    untouched, _ = shrink_config(
        transformers.AutoConfig.for_model("glm4v"), "glm4v", "widths",
        keep={"text_config.rope_parameters"},
    )  # fmt: skip
    assert "partial_rotary_factor" not in untouched.text_config.rope_parameters


def test_narrowed_mlp_widths_suit_the_experts_kernel() -> None:
    """The real shrunk mixture must run the ``torch._grouped_mm`` the analysis traced: on
    the CPU its rows must be a multiple of 16 bytes, which AXK1's MLP scaled to 37
    columns broke (validate then said "not checked")."""
    import torch

    from analyzer.frontend.hf_shrink import FFN_ALIGNMENT

    config = transformers.AutoConfig.for_model("axk1")
    small, changed = shrink_config(config, "axk1", "widths")
    for name in ("intermediate_size", "moe_intermediate_size"):
        assert name in changed and changed[name] % FFN_ALIGNMENT == 0, (name, changed[name])
    assert small.moe_intermediate_size < config.moe_intermediate_size

    def grouped(width: int) -> torch.Tensor:  # the kernel itself, on the shrunk width
        tokens = torch.randn(4, 8)
        weights = torch.randn(2, 8, width)
        return torch._grouped_mm(tokens, weights, offs=torch.tensor([2, 4], dtype=torch.int32))

    assert grouped(small.moe_intermediate_size).shape == (4, small.moe_intermediate_size)
    with pytest.raises(RuntimeError, match="multiple of 16 bytes"):
        grouped(37)
