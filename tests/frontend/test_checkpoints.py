"""Checkpoint folders through the command line, offline: each reloaded checkpoint analyses
as the model it was saved from (the oracle: the analysis of the in-memory model), validate
reads its weights, and weights that cannot be read are an error naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from analyzer.analysis import analyze
from analyzer.errors import SpecError
from analyzer.frontend.checkpoints import checked_weight_files, load_checkpoint

transformers = pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")


def tiny_llama() -> Any:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=100,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config).eval()


def tiny_bert() -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=32,
        vocab_size=100,
    )  # fmt: skip
    return transformers.BertModel(config).eval()


def tiny_unet() -> Any:
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        block_out_channels=[16, 32], down_block_types=["DownBlock2D", "AttnDownBlock2D"],
        up_block_types=["AttnUpBlock2D", "UpBlock2D"], sample_size=8, norm_num_groups=8,
        layers_per_block=1,
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    tiny_llama().save_pretrained(root / "llama")
    tiny_llama().save_pretrained(root / "sharded", max_shard_size="20KB")
    tiny_bert().save_pretrained(root / "bert")
    tiny_unet().save_pretrained(root / "unet")
    return {p.name: p for p in root.iterdir()}


def essentials(document: dict[str, Any], exact: bool = True) -> dict[str, Any]:
    """What an analysis claims, without its provenance (which names the spec). Not
    ``exact``: without the count of layout-only nodes (transformers' attention adds two
    ``contiguous`` calls on the meta device)."""
    primitives = dict(document["primitives"])
    if not exact:
        primitives.pop("structural")
    return {
        "nodes": document["graph"]["nodes"] if exact else None,
        "primitives": primitives,
        "circuit_class": document["circuit_class"],
        "degree": document["degree"],
        "piecewise_affine": document["piecewise_affine"],
        "sites": [(s["node"], s["kind"], s["module"]) for s in document["input_products"]],
        "transposes": [(t["node"], t["module"]) for t in document["dynamic_transposes"]],
        "unknown_ops": document["unknown_ops"],
    }


def cli_analysis(run_cli: Any, tmp_path: Path, *argv: str) -> dict[str, Any]:
    out = tmp_path / "analysis.json"
    code, _, err = run_cli("-q", "analyze", *argv, "--json", str(out))
    assert code == 0, err
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    ("name", "device"), [("llama", "meta"), ("llama", "cpu"), ("sharded", "cpu"), ("bert", "meta")]
)
def test_a_transformers_folder_analyses_as_the_model_it_holds(
    saved: dict[str, Path], run_cli: Any, tmp_path: Path, name: str, device: str
) -> None:
    model = tiny_bert() if name == "bert" else tiny_llama()
    model.config.use_cache = False  # the tool traces without cache outputs, as for hf:
    expected = analyze(model, (), example_kwargs={"input_ids": torch.randint(0, 100, (1, 16))})
    found = cli_analysis(run_cli, tmp_path, str(saved[name]), "--device", device)
    exact = device == "cpu"  # with the weights loaded: the very same graph
    assert essentials(found, exact) == essentials(expected.to_json(), exact)
    assert found["input_products"], "the comparison must cover product sites"
    if name != "bert":  # the class the config names, not the base model
        assert any(s["module"].startswith("model.layers") for s in found["input_products"])
        assert found["metadata"]["parameters"] == sum(p.numel() for p in model.parameters())


def test_a_diffusers_folder_analyses_as_the_model_it_holds(
    saved: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    inputs = {"sample": torch.randn(1, 3, 8, 8), "timestep": torch.full((1,), 0.5)}
    expected = analyze(tiny_unet(), (), example_kwargs={**inputs, "return_dict": False})
    found = cli_analysis(run_cli, tmp_path, str(saved["unet"]))
    assert essentials(found) == essentials(expected.to_json())
    assert any(s["kind"] == "contraction" for s in found["input_products"])


def test_a_pipeline_folder_takes_its_unet_and_names_the_others(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    pipeline = tmp_path / "pipeline"
    (pipeline / "unet").mkdir(parents=True)
    for file in saved["unet"].iterdir():
        (pipeline / "unet" / file.name).write_bytes(file.read_bytes())
    (pipeline / "vae").mkdir()
    (pipeline / "vae" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    index = {
        "_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"],
        "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "DDPMScheduler"],
    }  # fmt: skip
    (pipeline / "model_index.json").write_text(json.dumps(index))
    loaded = load_checkpoint(str(pipeline))
    assert type(loaded.module).__name__ == "UNet2DModel"
    assert any("unet component" in w and "vae" in w for w in loaded.warnings)


def tiny_vae() -> Any:
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        block_out_channels=[8], norm_num_groups=8, latent_channels=2, sample_size=8,
        layers_per_block=1,
    ).eval()  # fmt: skip


@pytest.fixture
def pipeline(saved: dict[str, Path], tmp_path: Path) -> Path:
    """A pipeline folder: a unet and a vae with their weights, a scheduler without a model."""
    folder = tmp_path / "pipeline"
    (folder / "unet").mkdir(parents=True)
    for file in saved["unet"].iterdir():
        (folder / "unet" / file.name).write_bytes(file.read_bytes())
    tiny_vae().save_pretrained(folder / "vae")
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text("{}")
    index = {
        "_class_name": "LDMPipeline", "unet": ["diffusers", "UNet2DModel"],
        "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "DDPMScheduler"],
    }  # fmt: skip
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def test_component_picks_a_pipelines_component(
    pipeline: Path, saved: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    vae = tiny_vae()
    found = cli_analysis(run_cli, tmp_path, str(pipeline), "--component", "vae")
    assert found["metadata"]["component"] == "vae"
    assert found["metadata"]["parameters"] == sum(p.numel() for p in vae.parameters())
    # the same analysis as the component's own folder, and as the in-memory model
    alone = cli_analysis(run_cli, tmp_path, str(pipeline / "vae"))
    assert essentials(found) == essentials(alone)
    loaded = load_checkpoint(str(pipeline), None, "cpu", component="vae")
    expected = analyze(vae, (), example_kwargs=loaded.kwargs)
    assert essentials(found) == essentials(expected.to_json())
    weights = vae.state_dict()
    assert all(torch.equal(v, weights[k]) for k, v in loaded.module.state_dict().items())
    assert cli_analysis(run_cli, tmp_path, str(pipeline))["metadata"]["parameters"] == sum(
        p.numel() for p in tiny_unet().parameters()
    )  # without --component: the main one, the unet


@pytest.mark.parametrize(
    ("component", "message"),
    [("vea", "did you mean 'vae'"), ("scheduler", "has no config.json"),
     ("text_encoder", "is not one of its components")],
)  # fmt: skip
def test_a_wrong_component_is_exit_2_with_a_suggestion(
    pipeline: Path, run_cli: Any, component: str, message: str
) -> None:
    code, _, err = run_cli("analyze", str(pipeline), "--component", component)
    paragraph = " ".join(err.split())
    assert code == 2 and message in paragraph and "unet, vae" in paragraph


def test_component_needs_a_pipeline_folder(saved: dict[str, Path], run_cli: Any) -> None:
    code, _, err = run_cli("analyze", str(saved["unet"]), "--component", "vae")
    assert code == 2 and "model_index.json" in err
    code, _, err = run_cli("analyze", "zoo:mlp", "--component", "vae")
    assert code == 2 and "pipeline folder" in err


def test_a_diffusers_folder_takes_config_overrides_with_its_weights(
    saved: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    weights = tiny_unet().state_dict()
    loaded = load_checkpoint(str(saved["unet"]), {"norm_eps": 0.5}, "cpu")
    assert loaded.module.config.norm_eps == 0.5
    norms = [m for m in loaded.module.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert norms and all(m.eps == 0.5 for m in norms)
    state = loaded.module.state_dict()
    assert state.keys() == weights.keys()
    assert all(torch.equal(state[k], weights[k]) for k in weights)  # the saved weights
    assert any("weights read from" in w for w in loaded.warnings)
    # an override that changes the architecture: the weights it has no room for are said
    deeper = load_checkpoint(str(saved["unet"]), {"layers_per_block": 2}, "cpu")
    assert any("not in the checkpoint (random)" in w for w in deeper.warnings)
    found = cli_analysis(run_cli, tmp_path, str(saved["unet"]), "--device", "cpu", "--config",
                         "norm_eps=0.5")  # fmt: skip
    assert found["metadata"]["config"] == {"norm_eps": 0.5}
    inputs = {"sample": torch.randn(1, 3, 8, 8), "timestep": torch.full((1,), 0.5)}
    expected = analyze(tiny_unet(), (), example_kwargs={**inputs, "return_dict": False})
    assert essentials(found) == essentials(expected.to_json())


def test_config_overrides_apply_and_misspelt_fields_get_a_suggestion(
    saved: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    found = cli_analysis(run_cli, tmp_path, str(saved["llama"]), "--config", "num_hidden_layers=1")
    modules = [s["module"] for s in found["input_products"]]
    layers = {m.split(".")[2] for m in modules if "layers." in m}
    assert layers == {"0"}
    code, _, err = run_cli("analyze", str(saved["llama"]), "--config", "num_hiden_layers=1")
    assert code == 2 and "num_hidden_layers" in err
    code, _, err = run_cli("analyze", str(saved["unet"]), "--config", "layers_per_blok=2")
    assert code == 2 and "layers_per_block" in err


def measured(run_cli: Any, tmp_path: Path, folder: Path) -> list[float]:
    out = tmp_path / "validation.json"
    code, _, err = run_cli(
        "-q", "validate", str(folder), "--device", "cpu", "--samples", "2", "--json", str(out)
    )
    assert code == 0, err
    document = json.loads(out.read_text())
    assert document["agree"]
    return [p["mixed_derivative"] for p in document["products"]]


def test_validate_uses_the_checkpoints_weights(
    saved: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    before = measured(run_cli, tmp_path, saved["llama"])
    assert measured(run_cli, tmp_path, saved["llama"]) == before  # the same weights, seed
    changed = tmp_path / "changed"
    changed.mkdir()
    for file in saved["llama"].iterdir():
        (changed / file.name).write_bytes(file.read_bytes())
    weights = load_file(str(changed / "model.safetensors"))
    weights["model.layers.0.input_layernorm.weight"] *= 5.0  # one weight changed
    save_file(weights, str(changed / "model.safetensors"), metadata={"format": "pt"})
    after = measured(run_cli, tmp_path, changed)
    assert len(after) == len(before) and after != before


def test_unreadable_weights_are_an_error_naming_the_file(
    saved: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in saved["sharded"].iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    assert len(checked_weight_files(broken, "transformers")) > 1  # sharded: every shard
    shard = sorted(broken.glob("model-*.safetensors"))[1]
    shard.unlink()
    code, _, err = run_cli("validate", str(broken), "--device", "cpu", "--samples", "2")
    assert code == 2 and shard.name in err and "missing" in err
    shard.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(SpecError, match=shard.name):
        checked_weight_files(broken, "transformers")
    # a dtype torch does not know, in an otherwise well-formed header
    header = json.dumps({"w": {"dtype": "Q3", "shape": [1], "data_offsets": [0, 1]}}).encode()
    shard.write_bytes(len(header).to_bytes(8, "little") + header + b"\x00")
    with pytest.raises(SpecError, match=shard.name):
        checked_weight_files(broken, "transformers")
    # the static analysis reads no weights: it still runs
    code, _, err = run_cli("-q", "analyze", str(broken))
    assert code == 0, err


def test_a_folder_without_a_config_is_refused(tmp_path: Path, run_cli: Any) -> None:
    code, _, err = run_cli("analyze", str(tmp_path))
    assert code == 2 and "config.json" in err
