"""The strategies: options checked eagerly, draws shrink to small models, and the truth
built in agrees with the static analysis and with validation on drawn examples."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, find, given, settings

from analyzer.analysis import analyze
from analyzer.empirical.validate import validate
from analyzer.errors import SpecError
from analyzer.strategies import Architecture, architectures
from analyzer.testing.blocks import BLOCKS, INF, Block

QUICK = settings(max_examples=25, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
POLYNOMIAL = ["linear", "conv", "avgpool", "batchnorm", "bilinear", "linear_attention", "residual"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"blocks": ["lstn"]}, "unknown block.*'lstn'.*known blocks: linear"),
        ({"blocks": "lstm"}, r"blocks must be a list.*\['lstm'\]"),
        ({"blocks": []}, "give at least one block"),
        ({"blocks": ["residual"]}, "wraps other blocks"),
        ({"max_depth": 0}, "max_depth must be at least 1"),
        ({"min_depth": 3, "max_depth": 2}, "max_depth must be at least 3"),
        ({"width": 0}, r"width must be between 1 and 64"),
        ({"width": 2.5}, "width must be an int"),
        ({"max_time": 1}, "max_time must be between 2 and 64"),
    ],
)
def test_options_are_checked_when_the_strategy_is_made(options, message) -> None:
    with pytest.raises(SpecError, match=message):
        architectures(**options)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        architectures(["linear"])  # type: ignore[misc]


@QUICK
@given(architectures())
def test_the_truth_built_in_is_what_the_analysis_finds(drawn: Architecture) -> None:
    analysis = analyze(drawn.module, drawn.args)
    assert drawn.truth.disagreements(analysis) == [], drawn.describe()


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(architectures(blocks=POLYNOMIAL, max_depth=2))
def test_static_contains_empirical_and_polynomial_degrees_agree(drawn: Architecture) -> None:
    """Validation differentiates the real model: no node the analysis calls static or
    discrete moves, and on polynomial blocks the measured degree is the built one."""
    report = validate(drawn.module, drawn.args, samples=4, pairs=8, device="cpu").to_json()
    assert report["dependence"]["violations"] == 0
    built = drawn.truth.degree
    assert report["degree"]["empirical"] == (drawn.truth.degree_text if built <= 4 else "inf")


@pytest.mark.slow
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(architectures(max_depth=3))
def test_static_contains_empirical_on_every_block(drawn: Architecture) -> None:
    report = validate(drawn.module, drawn.args, samples=4, pairs=8, device="cpu").to_json()
    assert report["dependence"]["violations"] == 0, drawn.describe()


def test_draws_shrink_to_one_small_block() -> None:
    smallest = find(
        architectures(blocks=["linear", "relu", "lstm", "gru"]),
        lambda drawn: drawn.truth.sites.get("gating", 0) > 0,
        settings=settings(database=None, max_examples=200),
    )
    assert smallest.blocks == (Block("lstm", 1, 1),)
    assert (smallest.features, smallest.time, smallest.batch, smallest.seed) == (1, 2, 1, 0)
    assert smallest.describe() == "a single LSTM layer, input 1, hidden 1"


def test_the_truth_composes_blocks() -> None:
    blocks = (
        Block("linear", 2, 3), Block("relu", 3, 3), Block("bilinear", 3, 2),
        Block("residual", 2, 2, (Block("linear_attention", 2, 2),)),
    )  # fmt: skip
    drawn = Architecture(blocks, batch=1, time=2, features=2, seed=0)
    truth = drawn.truth
    assert truth.circuit_class == {"matmul", "relu", "transpose"}
    assert dict(truth.sites) == {"contraction": 3}
    assert (truth.degree, truth.degree_text, truth.piecewise) == (6, "6", True)
    assert drawn.count("linear_attention") == 1 and drawn.count("linear") == 1
    assert analyze(drawn.module, drawn.args).degree == "6"
    lstm = Architecture((Block("lstm", 2, 2), Block("bilinear", 2, 2)), 1, 2, 2, 0)
    assert lstm.truth.degree == INF and lstm.truth.degree_text == "inf"


def test_a_build_is_reproducible_and_leaves_the_global_generator_alone() -> None:
    drawn = Architecture((Block("linear", 2, 2),), 1, 2, 2, seed=5)
    state = torch.random.get_rng_state()
    first, second = drawn.build(), drawn.build()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first[0].weight, second[0].weight) and torch.equal(first[1][0], second[1][0])


def test_models_of_several_blocks_name_their_blocks_by_kind() -> None:
    drawn = Architecture(
        (Block("linear", 1, 2), Block("lstm", 2, 2), Block("linear", 2, 1)), 1, 2, 1, 0
    )
    names = [name for name, _ in drawn.module.named_children()]
    assert names == ["linear_1", "lstm", "linear_2"]
    analysis = analyze(drawn.module, drawn.args)
    assert [analysis.module_of(s.node) for s in analysis.sites] == ["lstm.rnn"]
    assert drawn.describe() == (
        "3 blocks on 1 input feature(s): linear layer, 1 → 2 features; "
        "LSTM layer, input 2, hidden 2; linear layer, 2 → 1 features"
    )


def test_every_kind_has_words_and_a_builder() -> None:
    for kind in BLOCKS.values():
        assert kind.words and kind.build is not None
