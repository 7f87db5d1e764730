"""Training-step graphs (docs/concepts.md, the seed's claim S2): backprop's weight gradients are
contractions of two data-dependent values with a dynamic transpose; the forward has none."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

from analyzer import SpecError
from analyzer.analysis import analyze
from analyzer.frontend.storage import load_trace, save_trace
from analyzer.frontend.tracing import trace
from analyzer.frontend.training import TrainingStep
from analyzer.frontend.zoo import build_zoo_model


def step_of(name: str, **options: object) -> object:
    module, args = build_zoo_model(name)
    return analyze(trace(module, args, training=TrainingStep(**options)))  # type: ignore[arg-type]


def weight_matrices(module: nn.Module) -> int:
    return sum(1 for p in module.parameters() if p.requires_grad and p.dim() >= 2)


def test_mlp_forward_has_no_site_and_its_step_one_per_layer() -> None:
    module, args = build_zoo_model("mlp")
    forward = analyze(module, args)
    assert forward.sites == [] and forward.transposes == []
    step = analyze(trace(module, args, training=TrainingStep()))
    assert (
        [s.kind for s in step.sites]
        == ["contraction"] * 3
        == ["contraction"] * weight_matrices(module)
    )
    assert sorted(step.module_of(s.node) for s in step.sites) == [
        "layers.0",
        "layers.2",
        "layers.4",
    ]
    assert "transpose" in step.circuit_class
    assert step.degree == "2"  # δᵀ·x, δ affine in the data within a ReLU pattern
    assert step.to_json()["training"] == {
        "loss": "mse", "lr": 0.1, "optimizer": "sgd", "then_predict": False,
    }  # fmt: skip


def test_each_weight_gradient_has_a_dynamic_transpose_and_the_input_gradient_a_static_one() -> None:
    step = step_of("mlp")
    feeding = [t for t in step.transposes if t.feeds_contraction]
    assert len(feeding) == 3
    for site in step.sites:
        # one operand of δᵀ·x is the transposed δ; the other the layer's input
        transposed = [o for o in site.operands if o.name in {t.node.name for t in feeding}]
        assert len(transposed) == 1, site
    # Wᵀ·δ: the transposes of parameters are static, never listed
    static = [n for n in step.traced.op_nodes() if n.target is torch.ops.aten.t.default]
    assert any(not step.facts[n.args[0]].is_continuous for n in static)


@pytest.mark.parametrize("name", ["convnet", "transformer_block"])
def test_weight_gradient_sites_equal_the_trainable_weight_matrices(name: str) -> None:
    module, _ = build_zoo_model(name)
    step = step_of(name)
    gradients = [s for s in step.sites if s.part == "grad_weight" or _is_weight_gradient(s, step)]
    assert len(gradients) == weight_matrices(module)


_FLOWS_TO_UPDATE = frozenset(
    {torch.ops.aten.t.default, torch.ops.aten.mul.Tensor, torch.ops.aten.sub.Tensor,
     torch.ops.aten.view.default}
)  # fmt: skip


def _is_weight_gradient(site: object, step: object) -> bool:
    """An mm site whose result flows (through views, transposes and the update's
    arithmetic) into an output: a weight gradient."""
    node = site.node  # type: ignore[attr-defined]
    if site.part is not None or node.target is not torch.ops.aten.mm.default:  # type: ignore[attr-defined]
        return False
    frontier, seen = [node], set()
    while frontier:
        current = frontier.pop()
        for user in current.users:
            if user.op == "output":
                return True
            if user.target in _FLOWS_TO_UPDATE and user not in seen:
                seen.add(user)
                frontier.append(user)
    return False


def test_convolution_weight_gradient_is_a_contraction_of_two_data_dependent_values() -> None:
    step = step_of("convnet")
    parts = Counter(s.part for s in step.sites if s.node.target.__name__.startswith("convolution_"))
    assert parts == {"grad_weight": 2}  # the input gradient multiplies δ by a static W
    assert all(
        t.feeds_contraction for t in step.transposes if t.node.name.startswith("convolution_")
    )


def test_lstm_transformer_and_linear_attention_steps() -> None:
    lstm = step_of("lstm")
    kinds = Counter(s.kind for s in lstm.sites)
    assert kinds["gating"] > 0 and kinds["contraction"] > 0 and lstm.unknown_ops == []
    block = step_of("transformer_block")
    assert {"scores", "mix", "grad_value", "grad_query", "grad_key"} <= {
        s.part for s in block.sites
    }
    attention = step_of("linear_attention")
    assert attention.unknown_ops == [] and "transpose" in attention.circuit_class


def test_then_predict_is_the_dual_form_of_a_linear_layer() -> None:
    layer = nn.Linear(4, 3)
    forward = analyze(layer, (torch.randn(5, 4),))
    assert forward.sites == [] and forward.degree == "1"
    predict = analyze(trace(layer, (torch.randn(5, 4),), training=TrainingStep(then_predict=True)))
    # W'q = Wq − η Σ δₜ (xₜᵀ q): input-generated weights applied to the query
    assert predict.degree == "3"
    assert "transpose" in predict.circuit_class
    assert any(s.kind == "contraction" for s in predict.sites)
    names = {n.name for n in predict.traced.graph.nodes if n.op == "placeholder"}
    assert {"input", "targets", "query"} <= names or {"targets", "query"} <= names


def test_dual_form_identity_to_1e_10() -> None:
    """After T SGD steps, W_T·q = W_0·q + Σ e_t·(x_tᵀ·q) with e_t = −η·δ_t (the seed's claim S2)."""
    torch.manual_seed(0)
    layer = nn.Linear(6, 3, bias=False).double()
    rate, steps = 0.05, 7
    weight0 = layer.weight.detach().clone()
    keys, values = [], []
    optimiser = torch.optim.SGD(layer.parameters(), lr=rate)
    for _ in range(steps):
        x, y = torch.randn(2, 6, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
        output = layer(x)
        delta = torch.autograd.grad(nn.functional.mse_loss(output, y), output, retain_graph=True)[0]
        optimiser.zero_grad()
        nn.functional.mse_loss(output, y).backward()
        optimiser.step()
        keys.append(x)
        values.append(-rate * delta)
    query = torch.randn(6, dtype=torch.float64)
    attention = weight0 @ query + sum(e.T @ (k @ query) for k, e in zip(keys, values, strict=True))
    assert torch.allclose(layer.weight.detach() @ query, attention, rtol=0, atol=1e-10)


def test_stored_training_step_reanalyses_identically(tmp_path: Path) -> None:
    module, args = build_zoo_model("mlp")
    traced = trace(module, args, training=TrainingStep(lr=0.5))
    path = tmp_path / "step.json"
    save_trace(traced, path)
    direct, stored = analyze(traced).to_json(), analyze(load_trace(path)).to_json()
    for key in ("input_products", "dynamic_transposes", "circuit_class", "degree", "training"):
        assert direct[key] == stored[key], key


def test_ce_targets_are_discrete_and_frozen_parameters_get_no_update() -> None:
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 5))
    module[0].weight.requires_grad_(False)
    step = analyze(trace(module, (torch.randn(3, 4),), training=TrainingStep(loss="ce")))
    targets = next(n for n in step.traced.graph.nodes if n.name == "targets")
    assert str(step.facts[targets].dependence) == "discrete"
    assert any("frozen parameters get no update: 0.weight" in w for w in step.warnings)
    assert len(step.traced.returned_outputs()) == 3 + 1  # 0.bias, 2.weight, 2.bias, loss
    assert module[0].weight.requires_grad is False and module.training


def test_a_model_without_trainable_parameters_is_refused() -> None:
    module = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(SpecError, match="no trainable parameter"):
        trace(module, (torch.randn(1, 2),), training=TrainingStep())


def test_batch_norm_in_training_mode_is_a_warning() -> None:
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).train()
    step = analyze(trace(module, (torch.randn(5, 3),), training=TrainingStep()))
    assert any("couples the examples" in w for w in step.warnings)
    assert step.to_json()["mode"] == "train"


def test_bad_training_options_name_the_argument() -> None:
    with pytest.raises(SpecError, match="loss"):
        TrainingStep(loss="hinge")
    with pytest.raises(SpecError, match="lr"):
        TrainingStep(lr=0)


def test_cli_training_flags(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "step.json"
    code, stdout, _ = run_cli("analyze", "zoo:mlp", "--training", "--lr", "0.2", "--json", str(out))
    assert code == 0 and "transpose" in stdout
    document = json.loads(out.read_text())
    assert document["training"]["lr"] == 0.2 and document["frontend"] == "training"
    code, _, stderr = run_cli("analyze", "zoo:mlp", "--then-predict")
    assert code == 2 and "--training" in stderr


def test_validate_training_agrees_on_the_mlp(run_cli) -> None:
    """The step itself differentiated with respect to the data: the same four checks."""
    from analyzer import validate

    module, args = build_zoo_model("mlp")
    report = validate(module, args, training=TrainingStep(), samples=3)
    assert report.agree and report.degree_empirical == "2"
    assert [s.confirmed for s in report.sites] == [True, True, True]
    code, stdout, _ = run_cli("validate", "zoo:mlp", "--training", "--samples", "3")
    assert code == 0 and "agree" in stdout and "frontend training" in stdout
