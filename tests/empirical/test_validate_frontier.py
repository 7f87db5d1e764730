"""validate at the frontier (issue 19): data-dependent shapes, boolean values, random
ops read from their tags, unresolved degrees, site kinds and transposes, and a verdict
that says when the graph was not compared with the model."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from analyzer.empirical import validate as validate_module
from analyzer.empirical.randomness import random_ops
from analyzer.empirical.validate import validate
from analyzer.frontend.tracing import trace
from analyzer.frontend.zoo import build_zoo_model
from analyzer.render.validation import render_validation


class PositiveEntries(nn.Module):
    """``x[x > 0]``: a shape that depends on the values."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[x > 0].sum() * x.sum()


class Dispatch(nn.Module):
    """Mixtral-style routing: the tokens each expert gets are found by ``where``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.router = nn.Linear(4, 2)
        self.experts = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chosen = self.router(x).argmax(-1)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            rows = torch.where(chosen == e)[0]
            picked = x.index_select(0, rows)
            out = out.index_add(0, rows, expert(picked) * picked)
        return out


def test_data_dependent_shapes_are_measured_sample_by_sample() -> None:
    report = validate(PositiveEntries(), (torch.randn(6),), samples=4)
    assert report.sound and report.degree_empirical == "2"
    assert [s.confirmed for s in report.sites] == [True]
    assert report.batching.startswith("loop (vmap failed")
    report = validate(Dispatch(), (torch.randn(5, 4),), samples=4)
    assert report.sound and report.degree_empirical == "2"
    assert report.sites and all(s.confirmed for s in report.sites)


@torch.library.custom_op("analyzer_tests::is_positive", mutates_args=())
def is_positive(x: torch.Tensor) -> torch.Tensor:
    """A boolean-valued op the registry does not know (``isreal`` was, until it got an entry)."""
    return x > 0


@is_positive.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x, dtype=torch.bool)


class IsReal(nn.Module):
    """An op unknown to the registry and boolean: listed as a worst-case site."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * is_positive(x).to(x.dtype)


def test_a_boolean_site_is_never_differentiated() -> None:
    report = validate(IsReal(), (torch.randn(5),), samples=4)
    boolean = next(s for s in report.sites if s.node.startswith("is_positive"))
    assert boolean.mixed_derivative == 0.0 and not boolean.confirmed
    assert report.sound and not report.agree  # the worst case over-approximates


class NormalInPlace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.empty_like(x).normal_()  # traced as aten.normal_functional


class DropoutThenGate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear, self.dropout = nn.Linear(4, 4), nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.linear(x)) * x


def test_random_ops_are_read_from_their_tags_and_train_flag() -> None:
    graph = trace(NormalInPlace(), (torch.randn(3, 4),)).graph
    assert random_ops(graph) == ["aten.normal_functional"]
    report = validate(NormalInPlace(), (torch.randn(3, 4),), samples=4)
    assert report.sound and report.violations == [] and report.fidelity.mismatched == 0
    assert "random numbers (aten.normal_functional)" in report.fidelity.note
    model = DropoutThenGate()
    assert random_ops(trace(model.eval(), (torch.randn(3, 4),)).graph) == []
    report = validate(model.eval(), (torch.randn(3, 4),), samples=4)
    assert report.graph_checked and report.fidelity.mismatched == 0 and report.agree
    assert random_ops(trace(model.train(), (torch.randn(3, 4),), mode="train").graph) == [
        "aten.dropout"
    ]


def test_a_skipped_graph_check_qualifies_the_verdict() -> None:
    report = validate(NormalInPlace(), (torch.randn(3, 4),), samples=4)
    assert report.agree and not report.graph_checked
    assert report.verdict.startswith("agree (graph not checked: the graph draws random")
    document = report.to_json()
    assert document["verdict"] == report.verdict and document["graph_checked"] is False
    closing = render_validation(report).splitlines()[-1]
    assert "agree with the traced graph (graph not checked" in closing
    checked = validate(DropoutThenGate().eval(), (torch.randn(3, 4),), samples=4)
    assert checked.verdict == "agree" and checked.to_json()["graph_checked"] is True
    assert "agree with the model  (" in render_validation(checked).splitlines()[-1]


def test_grouped_mm_has_a_float64_implementation_for_the_model_and_the_graph() -> None:
    from analyzer.empirical.fidelity import Float64Kernels
    from analyzer.empirical.ops import grouped_mm

    a = torch.randn(6, 3, dtype=torch.float64)
    b = torch.randn(3, 3, 4, dtype=torch.float64)
    offs = torch.tensor([2, 2, 5], dtype=torch.int32)  # an empty group, a row past the end
    expected = torch.zeros(6, 4, dtype=torch.float64)
    expected[:2], expected[2:5] = a[:2] @ b[0], a[2:5] @ b[2]
    assert torch.allclose(grouped_mm(a, b, offs), expected)
    with Float64Kernels():  # the model itself calls the kernel, which refuses float64
        assert torch.allclose(torch._grouped_mm(a, b, offs=offs), expected)


@pytest.mark.slow
def test_a_one_layer_mixtral_is_compared_with_its_graph() -> None:
    from transformers import MixtralConfig, MixtralModel

    torch.manual_seed(0)
    config = MixtralConfig(
        vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, num_local_experts=4,
        num_experts_per_tok=2,
    )  # fmt: skip
    model = MixtralModel(config).eval()
    ids = torch.randint(0, 100, (1, 8))
    report = validate(model, (), example_kwargs={"input_ids": ids}, samples=2)
    assert report.graph_checked and report.fidelity.mismatched == 0
    assert report.fallbacks == [] and report.verdict == "agree"


def _with_claims(monkeypatch, change) -> None:
    real = validate_module.analyze_traced

    def changed(traced):
        analysis = real(traced)
        change(analysis)
        return analysis

    monkeypatch.setattr(validate_module, "analyze_traced", changed)


def test_a_contraction_published_as_gating_is_noticed(monkeypatch) -> None:
    def regate(analysis):
        analysis.sites[:] = [
            dataclasses.replace(s, kind="gating") if s.kind == "contraction" else s
            for s in analysis.sites
        ]

    _with_claims(monkeypatch, regate)
    report = validate(*build_zoo_model("linear_attention"), samples=4)
    assert report.missing_sites and not report.sound
    assert {m.get("published_as") for m in report.missing_sites} == {"gating"}
    assert "published as gating, but it contracts" in report.missing_sites[0]["why"]


def test_a_feeding_transpose_left_out_is_noticed(monkeypatch) -> None:
    def unfeed(analysis):
        analysis.transposes[:] = [
            dataclasses.replace(t, feeds_contraction=False) for t in analysis.transposes
        ]

    report = validate(*build_zoo_model("linear_attention"), samples=4)
    assert report.missing_transposes == [] and report.agree
    _with_claims(monkeypatch, unfeed)
    report = validate(*build_zoo_model("linear_attention"), samples=4)
    assert report.missing_transposes and not report.sound
    assert "missing transpose" in render_validation(report)


@torch.library.custom_op("analyzer_tests::product", mutates_args=())
def _product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a * b


@_product.register_fake
def _(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(a)


class CustomProduct(nn.Module):
    """A ``torch.library`` op: validate runs it through finite differences."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _product(x[:2], x[2:])


def test_a_custom_op_is_measured_beyond_first_order() -> None:
    report = validate(CustomProduct(), (torch.randn(4),), samples=2)
    assert any("finite differences" in note for note in report.fallbacks)
    assert report.degree_empirical == "2" and "differences of the graph's values" in (
        report.degree_method
    )
    (site,) = report.sites
    assert site.confirmed  # the mixed derivative of a finite difference, by differences
    assert report.sound and report.degree_static == "inf"  # an unknown op: worst case


class ProductChain(nn.Module):
    """``x^(2³⁰) + x``: overflows where ``|x| > 1``, underflows to 0 where ``|x| < 1``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(30):
            y = y * y
        return y + x


def test_a_degree_that_overflowed_is_a_lower_bound_never_an_agreement() -> None:
    report = validate(ProductChain(), (torch.tensor([0.5, -0.7, 1.5, 0.3]),), samples=2)
    assert report.degree_empirical.startswith("≥") and report.degree_static == "inf"
    assert not report.degree_agrees and not report.agree and report.sound
    assert report.verdict.startswith("over-approximated (degree only bounded: ≥")
    assert "could only be bounded" in render_validation(report).splitlines()[-1]


class _PaddedLookup(nn.Module):
    """LED's pad embeddings: ``new_full`` of a looked-up value gives constant indices."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(10, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        looked_up = self.table(ids)
        pads = self.table(looked_up.new_full(ids.shape, 1, dtype=torch.long))
        return looked_up * 2 + pads


def test_a_lookup_at_indices_made_from_a_shape_is_no_source() -> None:
    """``new_full(x, …)`` reads x's shape only: the lookup it indexes is static, not a
    perturbation source, so its zero tangent is no contradiction of the claims."""
    from analyzer.empirical.graphs import continuous_sources

    ids = torch.tensor([[1, 2, 3]])
    traced = trace(_PaddedLookup(), (ids,))
    lookups = [n for n in traced.graph.nodes if "embedding" in str(n.target)]
    assert len(lookups) == 2 and continuous_sources(traced) == lookups[:1]
    report = validate(_PaddedLookup(), (ids,), samples=2, device="cpu")
    assert report.to_json()["dependence"]["violations"] == 0
