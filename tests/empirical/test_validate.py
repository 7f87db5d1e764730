"""The empirical backend: every zoo verdict agrees; over-approximation reads as
unconfirmed, never as a violation; a soundness bug in the static pass is caught."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from torch import nn

from analyzer.empirical import validate as validate_module
from analyzer.empirical.report import ValidationReport
from analyzer.empirical.validate import validate
from analyzer.frontend.zoo import ZOO, build_zoo_model
from analyzer.passes.facts import STATIC_FACT
from tests.property.test_degree_sympy import TreeModel, sympy_degree, trees
from tests.seeds import randn, seeds


@functools.cache
def zoo_validation(name: str, samples: int = 4, **options: Any) -> ValidationReport:
    """``validate`` on the zoo model ``name`` built from seed 0, run once per module for
    every test that reads the same report (which none of them changes)."""
    torch.manual_seed(0)
    return validate(*build_zoo_model(name), model=name, samples=samples, **options)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_static_claims_agree_with_derivatives(name: str) -> None:
    report = zoo_validation(name)
    assert report.violations == [] and report.degree_violations == {}
    assert report.degree_empirical == report.degree_static
    assert all(site.confirmed for site in report.sites)
    assert report.agree and report.device == "cpu" and report.batching.startswith("vmap")


def test_piecewise_affine_models_have_no_cross_entry_terms() -> None:
    for name in ("mlp", "convnet"):
        report = validate(*build_zoo_model(name), samples=8)
        assert (report.cross_pairs, report.cross_nonzero) == (8, 0)
        assert report.degree_empirical == "1"
    report = zoo_validation("bilinear")
    assert report.cross_nonzero > 0  # a bilinear form multiplies entries


class OverApproximated(nn.Module):
    """``(a - a') * b`` with ``a' = a``: statically a degree-2 gating site; in fact zero."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a(x)
        return (a - a.clone()) * self.b(x) + x


def test_over_approximation_is_unconfirmed_never_a_violation() -> None:
    report = validate(OverApproximated(), (torch.randn(2, 4),), samples=4)
    assert report.violations == []
    assert "sub" in report.unconfirmed
    (site,) = report.sites
    assert site.kind == "gating" and not site.confirmed and not site.operands_vary
    assert (report.degree_static, report.degree_empirical) == ("2", "1")
    assert not report.agree


def test_a_soundness_bug_in_the_static_pass_is_a_violation(monkeypatch) -> None:
    real = validate_module.analyze_traced

    def buggy(traced):
        analysis = real(traced)
        wrong = next(n for n in analysis.facts if n.name == "relu")
        analysis.facts[wrong] = STATIC_FACT  # claims relu(linear(x)) ignores x
        return analysis

    monkeypatch.setattr(validate_module, "analyze_traced", buggy)
    report = validate(*build_zoo_model("mlp"), samples=2)
    assert report.violations == ["relu"] and not report.agree


@settings(max_examples=8, deadline=None)
@given(trees(), seeds)
def test_empirical_degree_matches_sympy(tree: tuple, seed: int) -> None:
    expected = sympy_degree(tree)
    inputs = (randn(seed, 2, 3, dtype=torch.float64),)  # the weights' dtype: it must run
    report = validate(TreeModel(tree), inputs, samples=3, max_degree=6, seed=seed)
    measured = report.degree_empirical
    assert measured == (str(expected) if expected <= 6 else "inf"), tree


def test_mixed_derivative_matches_autograd_hessian(monkeypatch) -> None:
    """The cross-entry term is uᵀ∇²⟨y, a⟩v at each sample: compare what the nested jvp
    measured with torch.autograd's Hessian-vector product of the same projected output, at
    the same points and directions."""
    from analyzer.empirical import checks, measure

    seen = {}
    real = measure.measure_mixed

    def spy(program, keys, probes, project, samples, *rest, **options):
        mixed = real(program, keys, probes, project, samples, *rest, **options)
        seen.update(program=program, project=project, samples=samples, mixed=mixed)
        return mixed

    monkeypatch.setattr(measure, "measure_mixed", spy)
    module, args = build_zoo_model("linear_attention")
    report = validate(module, args, samples=2, pairs=4)
    assert report.sites and all(s.confirmed and s.mixed_derivative > 0 for s in report.sites)
    program, project, samples = seen["program"], seen["project"], seen["samples"]
    measured = seen["mixed"].output_cross
    assert measured.shape == (4,) and measured.abs().amin() > 0

    def projected(*x: torch.Tensor) -> torch.Tensor:
        return checks._projection(project, "output", program.run(x))

    for s in range(4):
        point = tuple(p[s] for p in samples.points)
        u, v = tuple(d[s] for d in samples.u), tuple(d[s] for d in samples.v)
        _, hvp = torch.autograd.functional.hvp(projected, point, v)
        hvp = hvp if isinstance(hvp, tuple) else (hvp,)
        expected = sum((a * b).sum() for a, b in zip(u, hvp, strict=True))
        assert float(measured[s]) == pytest.approx(float(expected), rel=1e-9, abs=1e-12)


def test_nested_jvp_derivatives_match_autograd(monkeypatch) -> None:
    """The nested-jvp series is (f, f', …, f^(cap+1)) of the projected output along each
    line at t = 0: compare with torch.autograd's derivatives taken one order at a time,
    at the same points and directions."""
    from analyzer.empirical import checks, measure

    seen = {}
    real = measure.measure_degrees

    def spy(program, keys, project, samples, cap, *rest, **options):
        series = real(program, keys, project, samples, cap, *rest, **options)
        seen.update(program=program, keys=keys, project=project, samples=samples, cap=cap)
        seen["series"] = series
        return series

    monkeypatch.setattr(measure, "measure_degrees", spy)
    torch.manual_seed(0)
    validate(*build_zoo_model("linear_attention"), samples=2, max_degree=3,
             degree_method="nested")  # fmt: skip
    program, project, samples, cap = (seen[k] for k in ("program", "project", "samples", "cap"))
    series = seen["series"]
    assert series.shape == (2, cap + 2, len(seen["keys"])) and series.dtype == torch.float64
    column = seen["keys"].index("output")
    for s in range(2):
        point = tuple(p[s] for p in samples.points)
        line = tuple(d[s] for d in samples.lines)
        t = torch.zeros((), dtype=torch.float64, requires_grad=True)
        moved = tuple(p + t * d for p, d in zip(point, line, strict=True))
        value = checks._projection(project, "output", program.run(moved))
        expected = [value.item()]
        for _ in range(cap + 1):  # a derivative that no longer depends on t: the rest are 0
            if value.requires_grad:
                (value,) = torch.autograd.grad(value, t, create_graph=True, allow_unused=True)
            else:
                value = None
            value = torch.zeros(()) if value is None else value
            expected.append(value.item())
        assert series[s, :, column].tolist() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert any(abs(e) > 1e-6 for e in expected[1:])  # a derivative that can disagree


def test_vmap_and_loop_agree() -> None:
    torch.manual_seed(0)
    module, args = build_zoo_model("swiglu_mlp")
    batched = validate(module, args, samples=3).to_json()
    looped = validate(module, args, samples=3, batched=False).to_json()
    assert looped["batching"] == "loop"
    assert batched["agree"] == looped["agree"]
    assert batched["dependence"] == looped["dependence"]
    assert batched["cross_entry"]["nonzero"] == looped["cross_entry"]["nonzero"]
    for a, b in zip(batched["degree"]["derivative_norms"], looped["degree"]["derivative_norms"],
                    strict=True):  # fmt: skip
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_token_models_are_perturbed_at_their_embeddings() -> None:
    class TinyLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(20, 8)
            self.block = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.block(self.embed(ids))

    report = validate(TinyLM(), (torch.randint(0, 20, (1, 5)),), samples=3)
    assert report.agree and report.cross_nonzero > 0


def test_meta_models_are_materialised() -> None:
    with torch.device("meta"):
        module, _ = build_zoo_model("mlp")
    report = validate(module, (torch.randn(2, 6, 16),), samples=2)
    assert report.agree


def test_argument_checks() -> None:
    from analyzer.errors import SpecError

    module, args = build_zoo_model("mlp")
    with pytest.raises(SpecError, match="samples"):
        validate(module, args, samples=0)
    with pytest.raises(SpecError, match="max_degree"):
        validate(module, args, max_degree=0)
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="CUDA"):
            validate(module, args, device="cuda")


def test_cli_validate_json_and_strict(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    code, stdout, _ = run_cli("validate", "zoo:bilinear", "--samples", "4", "--json", str(out))
    assert code == 0 and "degree       static 2    empirical 2" in stdout
    document = json.loads(out.read_text())
    assert document["schema"] == "analyzer.validation/1" and document["agree"] is True
    assert {"device", "degree", "dependence", "products", "cross_entry", "seconds"} <= set(document)
    assert document["products"][0] == {**document["products"][0], "kind": "contraction",
                                       "confirmed": True}  # fmt: skip
    models = tmp_path / "over.py"
    models.write_text(
        "import torch\nfrom tests.empirical.test_validate import OverApproximated\n"
        "def build():\n    return OverApproximated(), (torch.randn(2, 4),)\n"
    )
    code, stdout, _ = run_cli("validate", f"{models}:build", "--samples", "2")
    assert code == 0 and "DISAGREE" in stdout  # a finding, not a crash
    code, _, _ = run_cli("validate", f"{models}:build", "--samples", "2", "--strict")
    assert code == 1


def test_cli_validate_bad_input(run_cli, tmp_path: Path) -> None:
    code, _, stderr = run_cli("validate", "zoo:mlp", "--samples", "0")
    assert code == 2 and "samples" in stderr
    code, _, stderr = run_cli("validate", "zoo:mlp", "--device", "meta")
    assert code == 2 and "meta" in stderr
    stored = tmp_path / "t.json"
    run_cli("trace", "zoo:mlp", "--out", str(stored))
    code, _, stderr = run_cli("validate", str(stored))
    assert code == 2 and "stored trace" in stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_validation_agrees_with_cpu() -> None:
    torch.manual_seed(0)
    module, args = build_zoo_model("transformer_block")
    gpu = validate(module, args, device="cuda", samples=8)
    before = torch.backends.cuda.matmul.allow_tf32
    assert gpu.device.startswith("cuda") and gpu.agree
    assert torch.backends.cuda.matmul.allow_tf32 == before  # TF32 setting restored


# --- what analyze publishes, measured on the published graph ---------------------------


def test_fused_attention_parts_are_checked_on_the_published_node() -> None:
    report = zoo_validation("transformer_block")
    parts = {(s.node, s.part): s.confirmed for s in report.sites if s.part is not None}
    assert parts == {
        ("scaled_dot_product_attention", "scores"): True,
        ("scaled_dot_product_attention", "mix"): True,
    }
    assert report.missing_sites == [] and report.agree


@pytest.mark.parametrize("method", ["interpolation", "nested"])
def test_layer_norm_measures_inf_not_three(method: str) -> None:
    """PyTorch's nested jvp through native_layer_norm would measure degree 3."""
    report = validate(nn.LayerNorm(6), (torch.randn(3, 6),), samples=4, degree_method=method)
    assert report.degree_empirical == "inf" and report.agree


class TinyProduct(nn.Module):
    """``(1e-5·x₀)·(1e-5·x₁)``: a product at the scale of 1e-10."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1e-5 * x[..., :1]) * (1e-5 * x[..., 1:])


@pytest.mark.parametrize("method", ["interpolation", "nested"])
def test_tolerance_is_relative_to_the_models_own_scale(method: str) -> None:
    report = validate(TinyProduct(), (torch.randn(3, 2),), samples=4, degree_method=method)
    assert report.degree_empirical == "2"
    assert [s.confirmed for s in report.sites] == [True]


# a cap at or just above each degree (measured exactly at the cap): nested jvp costs
# 2^(cap + 2) passes per sample, so the default cap of 4 made this test the slowest
CAPS = {"mlp": 2, "convnet": 2, "bilinear": 3, "linear_attention": 3, "moe_topk": 3}


@pytest.mark.parametrize("name", sorted(CAPS))
def test_speed_never_changes_a_verdict(name: str) -> None:
    """The interpolated degrees (kinks frozen at the line's centre) equal nested jvp's."""
    cap = CAPS[name]
    fast = zoo_validation(name, degree_method="interpolation", max_degree=cap)
    exact = zoo_validation(name, degree_method="nested", max_degree=cap)
    # the cap is above the degree (moe_topk's softmax gate: inf at any cap)
    assert exact.degree_empirical == zoo_validation(name).degree_empirical
    assert fast.degree_empirical == exact.degree_empirical
    assert fast.node_degrees == exact.node_degrees
    assert fast.agree == exact.agree


def _with_claims(monkeypatch, change) -> None:
    real = validate_module.analyze_traced

    def changed(traced):
        analysis = real(traced)
        change(analysis)
        return analysis

    monkeypatch.setattr(validate_module, "analyze_traced", changed)


def test_a_degree_claimed_too_low_anywhere_is_a_violation(monkeypatch) -> None:
    def lower(analysis):
        node = next(n for n in analysis.facts if n.name == "matmul_1")
        analysis.facts[node] = dataclasses.replace(analysis.facts[node], degree=2)

    _with_claims(monkeypatch, lower)
    report = validate(*build_zoo_model("linear_attention"), samples=4)
    assert report.degree_violations == {"matmul_1": ("2", "3")}
    assert not report.sound and not report.agree


def test_cross_terms_contradict_a_piecewise_affine_claim(monkeypatch) -> None:
    def affine(analysis):
        output = analysis.traced.output_node
        analysis.facts[output] = dataclasses.replace(analysis.facts[output], degree=1)

    _with_claims(monkeypatch, affine)
    report = validate(*build_zoo_model("bilinear"), samples=4)
    assert report.cross_contradicts and not report.sound


def test_a_dropped_site_is_found_among_the_unlisted_products(monkeypatch) -> None:
    _with_claims(monkeypatch, lambda analysis: analysis.sites.clear())
    report = validate(*build_zoo_model("swiglu_mlp"), samples=4)
    assert [m["node"] for m in report.missing_sites] == ["mul"]
    assert not report.sound


class PointwiseProducts(nn.Module):
    """``x·x`` and ``h·sigmoid(h)``: products of pointwise functions of one tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x)
        return x * x + h * torch.sigmoid(h)


def test_pointwise_self_products_are_not_sites() -> None:
    report = validate(PointwiseProducts(), (torch.randn(3, 4),), samples=4)
    assert report.missing_sites == [] and report.sites == []
    assert report.agree


class FrozenBranch(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if float(x[0, 0]) > 0 else x * x


def test_a_graph_that_is_not_the_model_is_caught_by_graph_fidelity() -> None:
    x = torch.randn(4, 3)
    x[0, 0] = 0.01  # samples around it fall on both sides of the branch
    report = validate(FrozenBranch(), (x,), samples=8, frontend="real")
    assert report.fidelity.checked > 0 and report.fidelity.mismatched > 0
    assert not report.sound
    assert any("froze its Python control flow" in w for w in report.warnings)


def test_the_callers_module_is_left_as_it_was() -> None:
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU()).train()
    state = {k: v.clone() for k, v in module.state_dict().items()}
    report = validate(module, (torch.randn(5, 3),), samples=2)
    assert report.mode == "train" and module.training
    assert all(t.dtype == torch.float32 for t in module.parameters())
    assert all(torch.equal(state[k], v) for k, v in module.state_dict().items())
    assert validate(module, (torch.randn(5, 3),), samples=2, mode="eval").mode == "eval"
    assert module.training


class DictInput(nn.Module):
    def forward(self, batch: dict, scale: torch.Tensor | None = None) -> torch.Tensor:
        return batch["a"] * batch["b"] * (1.0 if scale is None else scale)


def test_dict_and_keyword_inputs() -> None:
    batch = {"a": torch.randn(2, 3), "b": torch.randn(2, 3)}
    report = validate(DictInput(), (batch,), example_kwargs={"scale": torch.randn(2, 3)},
                      samples=3)  # fmt: skip
    assert report.degree_empirical == "3" and report.agree


def test_progress_and_seconds_by_check() -> None:
    from analyzer.progress import RecordingProgress

    log = RecordingProgress()
    report = validate(*build_zoo_model("mlp"), samples=3, progress=log)
    started = {e[1]: e[2] for e in log.events if e[0] == "start"}
    assert started["degree"] == 3 and started["dependence, sites, cross-entry terms"] == 3
    finished = [e for e in log.events if e[0] == "finish" and e[1] == "degree"]
    assert finished and finished[0][2] == 3
    assert {"trace", "setup", "dependence_sites_cross_entry", "degree"} <= set(
        report.seconds_by_check
    )


def test_a_memory_budget_splits_the_samples() -> None:
    report = validate(*build_zoo_model("mlp"), samples=4, memory=0.001)
    assert report.memory_budget_gib == pytest.approx(0.001)
    assert report.batching.startswith("vmap (chunks of 1)") and report.agree


def test_an_op_without_a_batching_rule_falls_back_to_a_loop(monkeypatch) -> None:
    """Functionalized graphs vmap; an op without a batching rule (stood in for here, as
    every op of the zoo has one) makes the samples run one by one, with the same result."""
    from analyzer.empirical import batching

    def no_batching_rule(function, **options):
        def refuse(*args):
            raise RuntimeError("Batching rule not implemented for aten::stand_in")

        return refuse

    batched = validate(*build_zoo_model("bilinear"), samples=3)
    monkeypatch.setattr(batching, "vmap", no_batching_rule)
    looped = validate(*build_zoo_model("bilinear"), samples=3)
    assert looped.batching.startswith("loop (vmap failed: RuntimeError: Batching rule")
    assert (looped.degree_empirical, looped.agree) == (batched.degree_empirical, batched.agree)


def test_cli_exits_3_with_one_paragraph_when_the_model_cannot_run(run_cli, tmp_path) -> None:
    models = tmp_path / "float32_only.py"
    models.write_text(
        "import torch\n"
        "@torch.library.custom_op('analyzer_tests::float32_only', mutates_args=())\n"
        "def float32_only(x: torch.Tensor) -> torch.Tensor:\n"
        "    if x.dtype != torch.float32:\n"
        "        raise RuntimeError('this kernel takes float32 only')\n"
        "    return x * 2\n"
        "@float32_only.register_fake\n"
        "def _(x):\n"
        "    return torch.empty_like(x)\n"
        "class Model(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.ops.analyzer_tests.float32_only(x) * x\n"
        "def build():\n"
        "    return Model(), (torch.randn(2, 3),)\n"
    )
    code, stdout, stderr = run_cli("validate", f"{models}:build", "--samples", "2")
    assert code == 3, stdout + stderr
    message = stderr.strip().splitlines()[-1]
    assert "float32 only" in stderr and "Traceback" not in stderr and message


class MaskedByIds(nn.Module):
    """``x`` masked where the token id is large: the mask depends on the integer input."""

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return x * (ids > 4).to(x.dtype).unsqueeze(-1)


def test_dependence_on_integer_inputs_is_measured(monkeypatch) -> None:
    def static_mask(analysis):
        node = next(n for n in analysis.facts if n.name == "gt")
        analysis.facts[node] = STATIC_FACT

    _with_claims(monkeypatch, static_mask)
    ids = torch.arange(10).reshape(2, 5)
    report = validate(MaskedByIds(), (torch.randn(2, 5, 3), ids), samples=3)
    assert "gt" in report.violations and "integer inputs" in report.violation_reasons["gt"]
    assert not report.sound


def test_a_float_input_before_an_integer_input() -> None:
    """The sources are overridden; every other input still gets its own example value."""
    ids = torch.arange(10).reshape(2, 5)
    report = validate(MaskedByIds(), (torch.randn(2, 5, 3), ids), samples=3)
    assert report.agree and report.degree_empirical == "1"


def test_when_the_graph_is_not_the_model_the_degree_is_the_models() -> None:
    """The real frontend freezes x.norm().item() into a constant: the graph is linear, the
    model is not. Fidelity says so, and the degree is measured on the model itself."""

    class FrozenNorm(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * x.sum().item()  # degree 2

    report = validate(FrozenNorm(), (torch.randn(2, 3),), samples=3, frontend="real")
    assert report.degree_empirical == "2" and "the model's own values" in (report.degree_method)
    assert report.fidelity.mismatched > 0


def test_a_degree_equal_to_the_cap_is_measured_exactly() -> None:
    """Derivatives 0 … cap + 1 along a line: order cap is the last that may be non-zero."""
    from analyzer.empirical.verdicts import nested_degree

    assert nested_degree([1.0, 2.0, 3.0, 4.0, 5.0, 0.0], cap=4) == "4"
    assert nested_degree([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], cap=4) == "inf"
    assert nested_degree([1.0, 2.0, 3.0, 0.0, 0.0, 0.0], cap=4) == "2"
    assert nested_degree([1.0, 0.0, 0.0], cap=1) == "0"
    report = validate(Cube(), (torch.randn(2, 3),), samples=2, max_degree=3,
                      degree_method="nested")  # fmt: skip
    assert report.degree_empirical == "3"


def test_nested_degree_reads_the_first_derivative_that_vanishes() -> None:
    """Derivative ``k + 1`` against the largest of ``1 … k``, the value itself aside."""
    from analyzer.empirical.verdicts import RELATIVE_TOLERANCE, nested_degree

    assert nested_degree([1.0, 2.0, 0.0, 0.0], cap=2) == "1"
    assert nested_degree([1.0, 0.0, 5.0, 0.0], cap=2) == "0"  # no tangent: static
    assert nested_degree([1.0, 1.0, RELATIVE_TOLERANCE, 0.0], cap=2) == "1"  # at the bound
    assert nested_degree([1.0, 1.0, 2 * RELATIVE_TOLERANCE, 0.0], cap=2) == "2"
    assert nested_degree([float("inf"), 1.0, 0.0, 0.0], cap=2) == "1"
    assert nested_degree([1.0, 1.0, float("nan"), 0.0], cap=2) == "2"


class Cube(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x * x.flip(-1)
