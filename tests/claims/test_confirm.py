"""Counterexamples confirmed with validate; static over-approximations rejected and counted;
ground truth deciding; assume(), @settings, @example and the database."""

from __future__ import annotations

import copy

import torch
from hypothesis import assume, example, settings
from hypothesis import strategies as st

from analyzer.claims.core import STATIC_ONLY, claim, fails
from analyzer.claims.runner import run_claim
from analyzer.empirical.validate import validate
from analyzer.strategies import Architecture, architectures
from analyzer.testing.blocks import Block

NORMALIZATION = fails(site_kind="normalization")


class LayerNormOver:
    """A bare ``nn.LayerNorm(features)`` over a (1, 2, features) input: over one feature it
    is a constant, whose site the static analysis still publishes."""

    def __init__(self, features: int) -> None:
        self.features = features
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.module = torch.nn.LayerNorm(features)
            self.args = (torch.randn(1, 2, features),)

    def describe(self) -> str:
        return f"a layer norm over {self.features} feature(s)"

    def __repr__(self) -> str:
        return f"LayerNormOver({self.features})"


def no_product(model) -> None:
    assert not model.analysis.sites, "an input-by-input product"


def test_a_static_only_counterexample_is_rejected_and_the_search_goes_on() -> None:
    family = st.integers(1, 4).map(LayerNormOver)
    made = claim("No layer norm has an input-by-input product", family=family,
                 expect=NORMALIZATION, examples=10)(no_product)  # fmt: skip
    result = run_claim(made, device="cpu")
    assert result.verdict == "fails" and result.as_expected
    assert result.counterexample.drawn == "LayerNormOver(2)"  # not the constant one
    assert result.counterexample.confirmation == "confirmed empirically"
    assert result.evidence["rejected_static"] == 1
    (why,) = result.evidence["rejections"]
    assert "LayerNormOver" not in why and "over 1 feature" in why and "not confirmed" in why
    unconfirmed = run_claim(made, device="cpu", confirm=False)
    assert unconfirmed.counterexample.drawn == "LayerNormOver(1)"
    assert unconfirmed.counterexample.confirmation == "not checked (confirmation off)"


def test_only_static_failures_read_fails_only_in_the_static_analysis() -> None:
    made = claim("The constant layer norm has no product", family=st.just(LayerNormOver(1)),
                 expect=NORMALIZATION, examples=3)(no_product)  # fmt: skip
    result = run_claim(made, device="cpu")
    assert result.verdict == STATIC_ONLY and not result.as_expected
    assert result.counterexample.confirmation == "rejected: not confirmed empirically"
    assert "validate refutes" in result.counterexample.assertion


def test_the_layer_norm_claim_fails_with_a_product_validate_confirms() -> None:
    @claim("No model with layer norm has an input-by-input product", expect=NORMALIZATION,
           family=architectures(blocks=["linear", "relu", "layernorm"]))  # fmt: skip
    def layer_norm(model):
        assume(model.drawn.count("layernorm"))
        assert not model.analysis.sites

    result = run_claim(layer_norm, device="cpu")
    assert result.verdict == "fails" and result.as_expected
    drawn = eval(result.counterexample.drawn, {"Architecture": Architecture, "Block": Block})
    report = validate(copy.deepcopy(drawn.module), drawn.args, device="cpu", samples=4)
    assert any(s.kind == "normalization" and s.confirmed for s in report.sites)
    # assume() counted apart: the examples that ran, not one and dozens of shrink steps
    assert result.evidence["discarded_by_assume"] >= 1
    assert result.examples >= 1 and result.evidence["shrink_steps"] < 30


def test_assume_does_not_corrupt_the_counts() -> None:
    @claim("ReLU models are piecewise affine", examples=15,
           family=architectures(blocks=["linear", "relu"]))  # fmt: skip
    def relu(model):
        assume(model.drawn.count("relu"))
        assert model.analysis.piecewise_affine

    result = run_claim(relu, device="cpu")
    assert result.verdict == "holds"
    assert result.examples == 15 and result.evidence["shrink_steps"] == 0
    assert result.evidence["discarded_by_assume"] > 0


def test_the_analysis_disagreeing_with_the_construction_is_its_own_verdict(monkeypatch) -> None:
    from analyzer.claims.mutations import MUTATIONS

    @claim("attention multiplies", examples=10,
           family=architectures(blocks=["linear", "attention"]))  # fmt: skip
    def attention(model):
        assert len(model.analysis.sites) >= 0

    assert run_claim(attention, device="cpu").as_expected
    dropped = next(m for m in MUTATIONS if m.name == "normalization sites dropped")
    dropped.apply(monkeypatch)
    result = run_claim(attention, device="cpu")
    assert result.verdict == "the analysis disagrees with the construction"
    assert result.check_verdict == "holds" and not result.as_expected
    found = result.construction.counterexample
    assert found.description.startswith("a single softmax attention layer")  # shrunk
    assert "normalization" in found.assertion
    document = result.to_json()
    assert document["construction"]["verdict"] == result.verdict and not document["as_expected"]


def test_settings_example_and_database_are_honoured(tmp_path) -> None:
    lstm = Architecture((Block("lstm", 3, 2),), batch=1, time=2, features=3, seed=0)

    @claim("no model is recurrent", family=architectures(blocks=["linear"]),
           expect=fails(block="lstm"))  # fmt: skip
    @example(lstm)
    @settings(max_examples=7)
    def not_recurrent(model):
        assert not model.drawn.count("lstm")

    result = run_claim(not_recurrent, device="cpu", database=str(tmp_path / "db"))
    assert result.verdict == "fails" and result.as_expected
    assert result.counterexample.drawn == repr(lstm)

    @claim("no model is recurrent", family=architectures(blocks=["lstm"]), examples=3,
           expect=fails(block="lstm"))  # fmt: skip
    def drawn_recurrent(model):
        assert not model.drawn.count("lstm")

    assert run_claim(drawn_recurrent, device="cpu", database=str(tmp_path / "db")).as_expected
    assert any((tmp_path / "db").rglob("*"))  # the failing example is kept, replayed first

    @settings(max_examples=7)
    @claim("linear models are affine", family=architectures(blocks=["linear"]))
    def affine(model):
        assert model.analysis.piecewise_affine

    assert run_claim(affine, device="cpu").examples == 7


def test_a_family_of_bare_modules_gets_a_clear_error() -> None:
    @claim("linear layers", family=st.just(torch.nn.Linear(2, 2)), examples=2)
    def bare(model):
        pass

    result = run_claim(bare, device="cpu")
    assert result.verdict == "error"
    assert "drew a Linear, not a model" in result.error and "module and .args" in result.error
