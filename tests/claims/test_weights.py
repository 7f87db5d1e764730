"""Trained weights in the claims (``claims --weights FOLDER``): S7's sparsity caveat measures
the checkpoint's own post-ReLU activations, names the checkpoint in the text, JSON and page,
and the figures follow the weights (the oracle: the fractions computed by hand from the
checkpoint's own intermediate activations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from analyzer.claims.runner import run_claim, run_claims
from analyzer.claims.seed.s7_brain import s7_sparsity
from analyzer.claims.weights import TrainedWeights, load_trained, relu_nonzero
from analyzer.errors import SpecError

transformers = pytest.importorskip("transformers")

CLAIM_FILE = """
from analyzer.claims import claim
from analyzer.claims.seed.s7_brain import s7_sparsity as seed

@claim("S7's sparsity caveat", identity=True)
def sparsity(check):
    return seed.function(check)
"""


def tiny_relu_bert(bias: float | None = None) -> Any:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=48,
        vocab_size=100, hidden_act="relu",
    )  # fmt: skip
    model = transformers.BertModel(config).eval()
    if bias is not None:
        with torch.no_grad():
            model.encoder.layer[0].intermediate.dense.bias.fill_(bias)
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trained")
    tiny_relu_bert().save_pretrained(root / "bert")
    tiny_relu_bert(bias=-100.0).save_pretrained(root / "dead")  # layer 0's ReLU: all zero
    return {p.name: p for p in root.iterdir()}


def by_layer(measurements: list[Any]) -> dict[str, float]:
    return {m.name: m.value for m in measurements if " at " in m.name}


def test_the_checkpoints_figures_are_its_own_and_follow_its_weights(checkpoints) -> None:
    trained = load_trained(checkpoints["bert"])
    found = relu_nonzero(trained)
    assert [path for path, _ in found] == [
        "encoder.layer.0.intermediate.intermediate_act_fn",
        "encoder.layer.1.intermediate.intermediate_act_fn",
    ]
    # the oracle: the dense layer's pre-activations, taken by a hook, thresholded by hand
    pre: list[torch.Tensor] = []
    hooks = [layer.intermediate.dense.register_forward_hook(lambda m, a, o: pre.append(o))
             for layer in trained.module.encoder.layer]  # fmt: skip
    with torch.no_grad():
        trained.module(*trained.args, **trained.kwargs)
    for hook in hooks:
        hook.remove()
    assert [f for _, f in found] == pytest.approx([(p > 0).float().mean().item() for p in pre])
    assert 0.2 < found[0][1] < 0.8

    dead = relu_nonzero(load_trained(checkpoints["dead"]))
    assert dead[0][1] == 0.0 and dead[1][1] == pytest.approx(found[1][1], abs=0.5)

    result = run_claim(s7_sparsity, device="cpu", weights=checkpoints["dead"])
    layers = by_layer(result.measurements)
    label = f"trained weights: {checkpoints['dead']}"
    assert layers == {
        f"fraction non-zero after ReLU at {path} ({label})": value for path, value in dead
    }
    assert result.as_expected  # the random-weight assertion is unchanged
    random = [m for m in result.measurements if "(random weights)" in m.name]
    assert len(random) == 4 and all(m.value > 0.3 for m in random)
    # the checkpoint's figures are reported, never held to the trained reference
    assert all(m.tolerance is None and m.expected is None and not m.decides
               for m in result.measurements)  # fmt: skip


def test_without_weights_the_figures_say_random_weights() -> None:
    result = run_claim(s7_sparsity, device="cpu")
    names = [m.name for m in result.measurements]
    assert not by_layer(result.measurements)
    assert sum("(random weights)" in n for n in names) == 4
    unmeasured = [m for m in result.measurements if m.value is None]
    assert len(unmeasured) == 2 and all("--weights" in m.note for m in unmeasured)


def test_a_model_without_relu_is_not_measured() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.GELU())
    trained = TrainedWeights("gelu-net", net, (torch.randn(2, 3),))
    result = run_claim(s7_sparsity, device="cpu", weights=trained)
    missing = [m for m in result.measurements if "trained weights: gelu-net" in m.name]
    assert [m.value for m in missing] == [None]
    assert "calls no ReLU" in missing[0].note


def test_the_report_names_the_checkpoint(run_cli, checkpoints, tmp_path) -> None:
    claims_file = tmp_path / "sparsity_claims.py"
    claims_file.write_text(CLAIM_FILE)
    out, page = tmp_path / "claims.json", tmp_path / "page"
    code, stdout, stderr = run_cli(
        "claims", str(claims_file), "--device", "cpu", "--weights", str(checkpoints["bert"]),
        "--json", str(out), "--report", str(page),
    )  # fmt: skip
    assert code == 0, stderr
    assert f"trained weights: {checkpoints['bert']}" in stdout
    document = json.loads(out.read_text())
    assert document["weights"]["checkpoint"] == str(checkpoints["bert"])
    names = [m["name"] for m in document["claims"][0]["measurements"]]
    assert sum(f"(trained weights: {checkpoints['bert']})" in n for n in names) == 2
    assert f"trained weights: {checkpoints['bert']}" in (page / "index.html").read_text()

    code, stdout, _ = run_cli("claims", str(claims_file), "--device", "cpu", "--json", str(out))
    assert code == 0
    assert "used random weights" in stdout
    assert json.loads(out.read_text())["weights"] is None


@pytest.mark.parametrize("folder", ["missing", "empty", "no_weights"])
def test_a_bad_weights_folder_is_exit_2(run_cli, checkpoints, tmp_path, folder) -> None:
    path = tmp_path / folder
    if folder != "missing":
        path.mkdir()
    if folder == "no_weights":
        (path / "config.json").write_text((checkpoints["bert"] / "config.json").read_text())
    code, _, stderr = run_cli("claims", "--device", "cpu", "--weights", str(path))
    assert code == 2
    expected = {"missing": "is not a folder", "empty": "neither config.json",
                "no_weights": "holds no weights"}[folder]  # fmt: skip
    paragraph = " ".join(stderr.split())
    assert expected in paragraph and str(path) in paragraph


def test_the_api_refuses_other_weights() -> None:
    with pytest.raises(SpecError, match="checkpoint folder"):
        run_claims([s7_sparsity], device="cpu", weights=3)
