"""The assertions: silent on models that have the property, and on models that lack it
a message that shows the sites, their witness paths and where a class or degree comes from."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.claims.core import claim
from analyzer.errors import SpecError
from analyzer.frontend.zoo import build_zoo_model
from analyzer.strategies import architectures
from analyzer.testing import (
    analysis_of,
    assert_claim,
    assert_degree,
    assert_no_input_products,
    assert_piecewise_affine,
    assert_primitive_set,
)


@pytest.fixture(scope="module")
def mlp():
    return analyze(*build_zoo_model("mlp"))


@pytest.fixture(scope="module")
def lstm():
    return analyze(*build_zoo_model("lstm"))


@pytest.fixture(scope="module")
def attention():
    return analyze(*build_zoo_model("linear_attention"))


def test_they_pass_on_a_relu_mlp(mlp) -> None:
    assert_primitive_set(mlp, {"matmul", "relu"})
    assert_primitive_set(mlp, subset_of={"matmul", "relu", "gating"})
    assert_no_input_products(mlp)
    assert_piecewise_affine(mlp)
    assert_degree(mlp, 1)
    assert_degree(mlp, "1")


def test_a_primitive_set_failure_names_the_class_and_where_it_comes_from(lstm) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_primitive_set(lstm, subset_of={"matmul", "relu"})
    message = str(raised.value)
    assert "expected a subset of ['matmul', 'relu']" in message
    assert "extra: gating, nonlinearity" in message
    assert "gating: node lstm (aten.lstm, module rnn)" in message
    assert "witness path: x → lstm" in message
    with pytest.raises(AssertionError, match=r"missing: relu"):
        assert_primitive_set(lstm, {"gating", "matmul", "nonlinearity", "relu"})


def test_a_site_failure_shows_every_site_with_its_witness_paths(attention) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_no_input_products(attention)
    message = str(raised.value)
    assert message.startswith("2 input-by-input sites, expected none:")
    assert message.count("contraction site at node") == 2
    assert "witness path: x → " in message
    assert_no_input_products(attention, kinds=["gating"])  # only contraction sites here


def test_a_degree_failure_shows_where_the_degree_rises(attention, lstm) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_piecewise_affine(attention)
    message = str(raised.value)
    assert message.startswith("degree is 3, expected at most 1")
    assert "degree 2 at node" in message and "class matmul" in message
    with pytest.raises(AssertionError, match="degree is inf, expected 1; raised above it at"):
        assert_degree(lstm, 1)
    with pytest.raises(AssertionError, match=r"degree is 3, expected 4$"):
        assert_degree(attention, 4)  # lower than asked: nothing "raised" to show


def test_a_module_is_analysed_with_args() -> None:
    assert_piecewise_affine(nn.Linear(2, 2), args=(torch.randn(1, 2),))
    with pytest.raises(SpecError, match="args="):
        assert_piecewise_affine(nn.Linear(2, 2))
    with pytest.raises(SpecError, match="natural number or 'inf'"):
        assert_degree(nn.Linear(2, 2), "two", args=(torch.randn(1, 2),))
    with pytest.raises(SpecError, match="expected= or subset_of="):
        assert_primitive_set(nn.Linear(2, 2), args=(torch.randn(1, 2),))


def test_a_drawn_model_is_read_through_its_analysis(lstm) -> None:
    class Drawn:
        analysis = lstm

    assert analysis_of(Drawn()) is lstm


def test_assert_claim_passes_when_the_verdict_is_expected_and_shows_the_counterexample() -> None:
    @claim("gated nets have no site", family=architectures(blocks=["linear", "gru"]))
    def no_sites(model):
        assert_no_input_products(model)

    with pytest.raises(AssertionError) as raised:
        assert_claim(no_sites, examples=10, device="cpu")
    message = str(raised.value)
    assert "claim 'no_sites': fails, expected holds" in message
    assert "counterexample: a single GRU layer, input 1, hidden 1: gating site at rnn" in message
    assert "witness path: x" in message

    @claim("gated nets have a site", family=architectures(blocks=["gru"]), examples=3)
    def has_sites(model):
        assert model.analysis.sites

    assert assert_claim(has_sites, device="cpu").verdict == "holds"

    @claim("a broken claim", identity=True)
    def broken(check):
        raise KeyError("oops")

    with pytest.raises(AssertionError, match="raised: KeyError"):
        assert_claim(broken)
