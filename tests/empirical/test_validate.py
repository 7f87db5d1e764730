"""The empirical backend: every zoo verdict agrees; over-approximation reads as
unconfirmed, never as a violation; a soundness bug in the static pass is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from torch import nn

from analyzer.empirical import validate as validate_module
from analyzer.empirical.validate import validate
from analyzer.frontend.zoo import ZOO, build_zoo_model
from analyzer.passes.facts import STATIC_FACT
from tests.property.test_degree_sympy import TreeModel, sympy_degree, trees


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_static_claims_agree_with_derivatives(name: str) -> None:
    torch.manual_seed(0)
    report = validate(*build_zoo_model(name), model=name, samples=4)
    assert report.violations == [] and report.degree_violations == {}
    assert report.degree_empirical == report.degree_static
    assert all(site.confirmed for site in report.sites)
    assert report.agree and report.device == "cpu" and report.batching.startswith("vmap")


def test_piecewise_affine_models_have_no_cross_entry_terms() -> None:
    for name in ("mlp", "convnet"):
        report = validate(*build_zoo_model(name), samples=8)
        assert (report.cross_pairs, report.cross_nonzero) == (8, 0)
        assert report.degree_empirical == "1"
    report = validate(*build_zoo_model("bilinear"), samples=4)
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
@given(trees())
def test_empirical_degree_matches_sympy(tree: tuple) -> None:
    expected = sympy_degree(tree)
    report = validate(TreeModel(tree), (torch.randn(2, 3),), samples=3, max_degree=6)
    measured = report.degree_empirical
    assert measured == (str(expected) if expected <= 6 else "inf"), tree


def test_mixed_derivative_matches_autograd_hessian() -> None:
    """Site confirmation measures uᵀ∇²⟨y, r⟩v: compare with torch.autograd on q·kᵀ."""
    torch.manual_seed(1)
    module, args = build_zoo_model("linear_attention")
    report = validate(module, args, samples=2)
    assert all(s.mixed_derivative > 0 for s in report.sites)
    x = args[0].double()
    module = module.double()
    u, v = torch.randn_like(x), torch.randn_like(x)

    def projected(y: torch.Tensor) -> torch.Tensor:
        q, k = module.q(y), module.k(y)
        return (q @ k.transpose(-2, -1)).sum()

    _, hvp = torch.autograd.functional.hvp(projected, x, v)
    assert torch.dot(u.flatten(), hvp.flatten()).abs() > 0


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
