"""``diffusers:CLASS``: any diffusers model class from its default config with checked
overrides, inputs from its forward signature; its analysis is the in-memory model's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from analyzer.analysis import analyze
from analyzer.errors import SpecError
from analyzer.frontend.diffusion import build_diffusers_model, model_classes, shrunk_config

diffusers = pytest.importorskip("diffusers")

UNET = {
    "block_out_channels": [16, 32], "norm_num_groups": 8, "layers_per_block": 1,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "cross_attention_dim": 24,
    "attention_head_dim": 4, "sample_size": 8,
}  # fmt: skip


def test_diffusers_class_analyses_as_the_model_built_in_memory(
    run_cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "analysis.json"
    configs = [f"--config={key}={json.dumps(value)}" for key, value in UNET.items()]
    code, _, err = run_cli(
        "-q", "analyze", "diffusers:UNet2DConditionModel", *configs, "--seq-len", "5",
        "--json", str(out),
    )  # fmt: skip
    assert code == 0, err
    found = json.loads(out.read_text())
    torch.manual_seed(0)
    model = diffusers.UNet2DConditionModel(**UNET).eval()
    inputs = {
        "sample": torch.randn(1, 4, 8, 8), "timestep": torch.full((1,), 0.5),
        "encoder_hidden_states": torch.randn(1, 5, 24), "return_dict": False,
    }  # fmt: skip
    expected = analyze(model, (), example_kwargs=inputs).to_json()

    def claims(document: dict[str, Any]) -> Any:
        sites = [(s["node"], s["kind"], s["module"]) for s in document["input_products"]]
        primitives = {k: v for k, v in document["primitives"].items() if k != "structural"}
        return primitives, sites, document["degree"], document["unknown_ops"]

    assert claims(found) == claims(expected)
    # cross-attention: text states meet the latent in a contraction
    assert any("attn2" in s["module"] for s in found["input_products"])
    assert found["metadata"]["parameters"] == sum(p.numel() for p in model.parameters())


def test_inputs_follow_the_forward_signature() -> None:
    flux = build_diffusers_model(
        "FluxTransformer2DModel", {"num_layers": 1, "num_single_layers": 1}, seq_len=7
    )
    shapes = {n: tuple(v.shape) for n, v in flux.kwargs.items() if hasattr(v, "shape")}
    assert shapes["hidden_states"] == (1, 16, 64)  # packed latent tokens
    assert shapes["encoder_hidden_states"] == (1, 7, 4096) and shapes["txt_ids"] == (7, 3)
    assert shapes["img_ids"] == (16, 3) and shapes["pooled_projections"] == (1, 768)
    dit = build_diffusers_model("DiTTransformer2DModel", {"num_layers": 1})
    assert dit.kwargs["class_labels"].dtype == torch.long  # a class-conditional model
    assert build_diffusers_model("AutoencoderKL").kwargs["sample"].shape == (1, 3, 32, 32)
    cogview = build_diffusers_model("CogView4Transformer2DModel", {"num_layers": 1})
    assert {n: tuple(cogview.kwargs[n].shape) for n in ("original_size", "crop_coords")} == {
        "original_size": (1, 2), "crop_coords": (1, 2),  # required conditions, per sample
    }  # fmt: skip
    given = build_diffusers_model("AutoencoderKL", named={"sample": torch.randn(2, 3, 16, 16)})
    assert given.kwargs["sample"].shape == (2, 3, 16, 16)


def test_misspelt_names_get_suggestions(run_cli: Any) -> None:
    with pytest.raises(SpecError, match="UNet2DConditionModel"):
        build_diffusers_model("UNet2DConditionModle")
    code, _, err = run_cli("analyze", "diffusers:AutoencoderKL", "--config", "latent_chanels=8")
    assert code == 2 and "latent_channels" in err


def test_shrinking_cuts_layer_counts_but_not_the_fields_given() -> None:
    cls = diffusers.FluxTransformer2DModel
    config, changed = shrunk_config({"num_layers": 3}, cls, keep={"num_layers"})
    assert changed == {"num_single_layers": 2} and config["num_layers"] == 3
    assert "UNet2DConditionModel" in model_classes() and "ModelMixin" not in model_classes()


def test_without_diffusers_the_command_line_names_the_package(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers fails
    code, _, err = run_cli("analyze", "diffusers:UNet2DModel")
    assert code == 4 and "pip install 'diffusers'" in err
