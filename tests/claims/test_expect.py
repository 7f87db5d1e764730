"""Expected failures that say why: fails(...) and what a failure for another reason reads."""

from __future__ import annotations

import pytest

from analyzer.claims.core import claim, fails
from analyzer.claims.runner import run_claim
from analyzer.errors import SpecError
from analyzer.strategies import architectures


def test_an_expected_failure_must_say_why() -> None:
    with pytest.raises(SpecError, match="must say why"):
        claim("s", identity=True, expect="fails")
    with pytest.raises(SpecError, match="name what the counterexample must show"):
        fails()
    with pytest.raises(SpecError, match="give a name or a list of names"):
        fails(site_kind=[])
    assert fails(block="lstm").block == ("lstm",)


def test_a_failure_showing_the_named_reason_is_as_expected() -> None:
    @claim("recurrent nets are ReLU circuits", examples=20,
           expect=fails(site_kind="gating", block=["lstm", "gru"], op=["lstm", "gru"]),
           family=architectures(blocks=["linear", "relu", "rnn", "lstm", "gru"]))  # fmt: skip
    def recurrent(model):
        assert set(model.analysis.circuit_class) <= {"matmul", "relu"}

    result = run_claim(recurrent, device="cpu")
    assert result.verdict == "fails" and result.as_expected, result.unexpected()


def test_a_failure_for_another_reason_is_not_as_expected_and_says_both() -> None:
    @claim("no model holds a ReLU", examples=10, expect=fails(site_kind="gating"),
           family=architectures(blocks=["linear", "relu"]))  # fmt: skip
    def no_relu(model):
        assert model.drawn.count("relu") == 0, "a ReLU was drawn"

    result = run_claim(no_relu, device="cpu")
    assert result.verdict == "fails" and not result.as_expected
    (line,) = result.unexpected()
    assert "fails, not as expected" in line and "a gating site" in line  # the reason expected
    assert "ReLU" in line and "a ReLU was drawn" in line  # the failure found
    assert "no site kind gating" in line


def test_identities_fail_for_a_named_assertion_or_measurement() -> None:
    @claim("one is two", identity=True, expect=fails(assertion="1 == 2"))
    def asserted(check):
        assert 1 == 2

    @claim("a bound", identity=True, tolerance=1e-12, expect=fails(measurement="gap"))
    def measured(check):
        check.measure("the gap", 1.0)

    @claim("a bound", identity=True, tolerance=1e-12, expect=fails(measurement="other"))
    def other(check):
        check.measure("the gap", 1.0)

    assert run_claim(asserted).as_expected
    assert run_claim(measured).as_expected
    result = run_claim(other)
    assert not result.as_expected and "no measurement other" in result.unexpected()[0]


def test_lstm_registered_as_a_relu_rnn_makes_s1s_caveat_not_as_expected(monkeypatch) -> None:
    from analyzer.claims.mutations import MUTATIONS, seed_claim

    mutation = next(m for m in MUTATIONS if m.name == "LSTM/GRU registered as ReLU RNNs")
    mutation.apply(monkeypatch)
    result = run_claim(seed_claim("S1.recurrent"), examples=10, device="cpu")
    assert not result.as_expected
    assert result.verdict == "the analysis disagrees with the construction"
    assert "LSTM" in result.construction.counterexample.description or "GRU" in (
        result.construction.counterexample.description
    )
