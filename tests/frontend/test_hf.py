"""Tiny transformers models, built from configs with random weights and analysed."""

from __future__ import annotations

from collections import Counter

import pytest

from analyzer.analysis import analyze_traced
from analyzer.errors import TraceError
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


# --- clear errors, sizes and overrides, fallbacks (the CLI as a user meets them) ------


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["hf:lama"], 2, "did you mean 'llama'"),
        (["hf:llama", "--config", "num_hiden_layers=2"], 2, "did you mean 'num_hidden_layers'"),
        (["hf:funnel", "--config", "num_hidden_layers=2"], 2, "rejects --config"),
        (["hf:dinat"], 2, "needs the Python package 'natten'"),
        (
            ["hf:time_series_transformer"],
            3,
            "cannot build hf:time_series_transformer from its default config",
        ),
        (["hf:bert", "--input", "int64[1,16]<100"], 2, "name the forward argument"),
        (["hf:bert", "--input", "input_id=int64[1,16]<100"], 2, "did you mean 'input_ids'"),
        (["zoo:mlp", "--seq-len", "8"], 2, "--seq-len apply to hf:, diffusers: and checkpoint"),
        (
            ["hf:clip", "--config", "txt_config.num_hidden_layers=1"],
            2,
            "did you mean 'text_config'",
        ),
        (
            ["hf:clip", "--config", "text_config.num_hiden_layers=1"],
            2,
            "the text_config config has no field 'num_hiden_layers'; did you mean "
            "'num_hidden_layers'",
        ),
        (["hf:clip", "--config", "text_config.num_hidden_layers=abc"], 2, "num_hidden_layers"),
        (["hf:gpt2", "--config", "n_layer.x=1"], 2, "it has no sub-configs"),
    ],
)
def test_clear_errors_with_their_exit_codes(run_cli, argv, code, message) -> None:
    exit_code, _, err = run_cli("analyze", *argv, "--quiet")
    assert exit_code == code, err
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_sizes_and_named_inputs_reach_the_trace(run_cli, tmp_path) -> None:
    out = tmp_path / "a.json"
    code, _, err = run_cli(
        "analyze", "hf:bert", "--config", "num_hidden_layers=1", "--seq-len", "7", "--batch", "3",
        "--input", "token_type_ids=int64[3,7]<2", "--quiet", "--json", str(out),
    )  # fmt: skip
    assert code == 0, err
    import json

    inputs = {i["name"]: i["shape"] for i in json.loads(out.read_text())["metadata"]["inputs"]}
    assert inputs == {"input_ids": [3, 7], "token_type_ids": [3, 7]}


def test_sub_config_fields_are_overridden_by_a_dotted_key() -> None:
    """``text_config.num_hidden_layers=1`` cuts CLIP's text tower to one layer and leaves
    the vision tower and the other text fields alone."""
    loaded = load_model(
        "hf:clip",
        config=["text_config.num_hidden_layers=1", "text_config.hidden_size=64",
                "text_config.num_attention_heads=2", "vision_config.num_hidden_layers=1"],
    )  # fmt: skip
    text, vision = loaded.module.config.text_config, loaded.module.config.vision_config
    assert (text.num_hidden_layers, text.hidden_size, vision.num_hidden_layers) == (1, 64, 1)
    assert len(loaded.module.text_model.encoder.layers) == 1
    assert vision.hidden_size == type(vision)().hidden_size  # untouched


def test_image_size_reaches_the_pixels() -> None:
    loaded = load_model("hf:vit", config=TINY["vit"].split(), image_size=48)
    assert tuple(loaded.kwargs["pixel_values"].shape) == (1, 3, 48, 48)


def test_a_model_that_fails_on_meta_falls_back_to_the_cpu_and_says_so(run_cli, tmp_path) -> None:
    """xlnet makes CPU tensors inside its forward: on meta that fails, on the CPU not."""
    out = tmp_path / "x.json"
    config = ["--config", "n_layer=1", "--config", "d_model=32", "--config", "n_head=2"]
    code, _, err = run_cli("analyze", "hf:xlnet", *config, "--json", str(out))
    assert code == 0, err
    import json

    warnings = json.loads(out.read_text())["warnings"]
    assert any(w.startswith("built on the cpu") for w in warnings)
    assert "note: built on the cpu" in err


def test_no_fallback_when_the_device_is_given() -> None:
    from analyzer.frontend.hf_errors import TransformersError

    with pytest.raises(TransformersError, match="forward fails"):
        load_model("hf:xlnet", config=["n_layer=1", "d_model=32", "n_head=2"], device="meta")


def test_analyze_exports_the_first_plan_without_probing_it(run_cli, tmp_path, monkeypatch):
    """The export runs the forward as the input probe would: the command line probes only
    when that export fails (the probe was a tenth of the command's CPU time at 70B)."""
    import analyzer.frontend.hf as hf

    probes = []
    real = hf.first_running
    monkeypatch.setattr(hf, "first_running", lambda *a: probes.append(1) or real(*a))
    out = tmp_path / "b.json"
    code, _, err = run_cli("analyze", "hf:bert", *_config("bert"), "--quiet", "--json", str(out))
    assert code == 0, err
    assert probes == []
    code, _, err = run_cli("analyze", "hf:bert", *_config("bert"), "--frontend", "fx", "--quiet")
    assert code == 0 or "fx:" in err
    assert probes  # another frontend than export is handed probed inputs


def test_a_failed_export_of_unprobed_inputs_retries_with_the_probed_ones() -> None:
    """The retry chain of ``load_model(probe=False)``: the probe's choice on the same meta
    model first (traced with every frontend), then the model rebuilt on the CPU."""
    bert = load_model("hf:bert", config=TINY["bert"].split(), probe=False)
    assert bert.unprobed and bert.retry is not None
    probed = bert.retry(TraceError("export failed"))
    assert probed is not None and not probed.unprobed
    assert probed.module is bert.module and probed.kwargs is bert.kwargs  # the first plan runs
    on_cpu = probed.retry(TraceError("every frontend failed"))
    assert on_cpu is not None and next(on_cpu.module.parameters()).device.type == "cpu"
    xlnet = load_model("hf:xlnet", config=["n_layer=1", "d_model=32", "n_head=2"], probe=False)
    assert xlnet.unprobed
    with pytest.raises(TraceError) as failed:  # it makes CPU tensors: it cannot run on meta
        trace(xlnet.module, (), example_kwargs=xlnet.kwargs, frontend="export")
    again = xlnet.retry(failed.value)
    assert again is not None and any(w.startswith("built on the cpu") for w in again.warnings)


def _config(model_type: str) -> list[str]:
    return [part for item in TINY[model_type].split() for part in ("--config", item)]


def test_the_fx_frontend_takes_keyword_inputs() -> None:
    """The keyword wrapper has named parameters: fx never iterates a *args proxy."""
    import torch

    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

        def forward(self, x, scale=None):
            return self.linear(x) * scale

    inputs = {"x": torch.randn(2, 4), "scale": torch.randn(2, 4)}
    traced = trace(Scaled(), (), example_kwargs=inputs, frontend="fx")
    assert traced.frontend == "fx"
    assert [i["name"] for i in traced.metadata["inputs"]] == ["x", "scale"]
    loaded = load_model("hf:bert", config=TINY["bert"].split())
    try:
        bert = trace(loaded.module, (), example_kwargs=loaded.kwargs, frontend="fx")
    except TraceError as error:  # BERT's own control flow may stop fx, the wrapper may not
        assert "fx:" in str(error) and "cannot be iterated" not in str(error)
    else:
        assert bert.frontend == "fx"


# The hf: builder's modules in the order data flows through them: each imports only from
# modules before it (config → shrink → build → inputs; the errors under all of them).
HF_MODULES = [
    "hf_errors",
    "hf_shrink",
    "hf_config",
    "hf_input_context",
    "hf_vision_inputs",
    "hf_audio_inputs",
    "hf_series_inputs",
    "hf_inputs",
    "hf_plans",
    "hf_placeholders",
    "hf_probe",
    "hf",
]


def test_hf_builder_modules_import_one_way():
    import ast
    from pathlib import Path

    import analyzer.frontend

    folder = Path(analyzer.frontend.__file__).parent
    assert sorted(p.stem for p in folder.glob("hf*.py")) == sorted(HF_MODULES)
    backwards = []
    for position, name in enumerate(HF_MODULES):
        tree = ast.parse((folder / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "analyzer.frontend.hf"
            ):
                imported = node.module.rsplit(".", 1)[-1]
                if HF_MODULES.index(imported) >= position:
                    backwards.append(f"{name} imports {imported}")
    assert not backwards, backwards
