"""The catalogue: every hand-written truth is confirmed by the oracle on the Python model,
and the cases are many, spread over every class, and built deterministically."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils import _pytree as pytree

from tests.adversarial.catalogue import ANY_SITE, CLASSES, all_cases
from tests.adversarial.oracle import Oracle

CASES = all_cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_oracle_confirms_the_hand_written_truth(name: str) -> None:
    assert_oracle_confirms(CASES[name])


def assert_oracle_confirms(case) -> None:
    """The oracle, run on the Python model, measures the case's hand-written truth."""
    module, args, kwargs = case.build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measured = Oracle(module, args, kwargs, sources=case.sources, step=case.step).measure()
    truth = case.truth
    assert measured.dependence == truth.dependence, measured
    assert measured.degree_consistent_with(truth.degree), measured
    if truth.expects_cross is not None:
        assert measured.cross == truth.expects_cross, measured


def test_there_are_enough_cases_in_every_class() -> None:
    assert len(CASES) >= 60
    groups = {case.group for case in CASES.values()}
    assert groups == set(CLASSES)


def test_truths_are_well_formed() -> None:
    for case in CASES.values():
        truth = case.truth
        assert truth.dependence in ("static", "discrete", "continuous"), case.name
        assert truth.products <= ANY_SITE, case.name
        assert truth.min_sites >= 1, case.name
        if truth.products:
            assert truth.degree >= 2, f"{case.name}: a product has degree at least 2"
        if truth.dependence != "continuous":
            assert truth.degree == 0 and not truth.products, case.name
        assert case.note, f"{case.name} needs a docstring saying what it is"


@pytest.mark.parametrize("name", ["kv_cache_attention", "lerp_gate", "dict_input_product"])
def test_builds_are_deterministic(name: str) -> None:
    first, second = CASES[name].build(), CASES[name].build()
    state = [dict(first[0].state_dict()), dict(second[0].state_dict())]
    assert state[0].keys() == state[1].keys()
    assert all(torch.equal(state[0][k], state[1][k]) for k in state[0])
    leaves = [pytree.tree_leaves((built[1], built[2])) for built in (first, second)]
    assert all(torch.equal(a, b) for a, b in zip(*leaves, strict=True))
