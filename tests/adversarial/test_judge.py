"""The judging rules: below the truth is a false claim, above it an over-approximation;
missing sites are false, extra ones and unknown ops are not; module changes are seen."""

from __future__ import annotations

import math

import torch
from torch import nn

from tests.adversarial.catalogue import GATING, truth
from tests.adversarial.judge import changes, judge, parse_degree, snapshot


def doc(degree="2", dependence="continuous", sites=(), unknown=()) -> dict:
    return {
        "degree": degree,
        "piecewise_affine": parse_degree(degree) <= 1,
        "output_dependence": dependence,
        "input_products": [{"kind": k, "op": "aten.mul", "node": "mul"} for k in sites],
        "unknown_ops": list(unknown),
    }


def test_exact_claims_are_neither_false_nor_over() -> None:
    assert judge(truth(2, GATING), doc("2", sites=["gating"])) == ([], [])


def test_below_the_truth_is_false_above_it_is_over() -> None:
    false, over = judge(truth(2, GATING), doc("1", sites=["gating"]))
    assert len(false) == 2 and over == []  # degree, and "piecewise affine"
    false, over = judge(truth(2, GATING), doc("inf", sites=["gating"], unknown=["aten.kron"]))
    assert false == [] and len(over) == 2
    false, _ = judge(truth(math.inf), doc("6"))
    assert false and "degree 6 < true inf" in false[0]


def test_dependence_order() -> None:
    assert judge(truth(0, dependence="discrete"), doc("0", "static"))[0]
    assert not judge(truth(0, dependence="discrete"), doc("0", "continuous"))[0]


def test_sites_of_the_wrong_kind_or_too_few_are_false_extra_ones_are_over() -> None:
    assert judge(truth(2, GATING), doc("2", sites=["contraction"]))[0]
    assert judge(truth(math.inf, "contraction", min_sites=2), doc("inf", sites=["contraction"]))[0]
    false, over = judge(truth(2), doc("2", sites=["gating"]))
    assert false == [] and over


def test_changes_to_the_module_are_seen() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    before = snapshot(model)
    assert changes(before, snapshot(model)) == []
    model.eval()
    model[1].running_mean += 1
    model.double()
    found = " ".join(changes(before, snapshot(model)))
    assert "training True → False" in found and "float64" in found
    state = snapshot(model)
    with torch.no_grad():
        model[1].running_mean += 1
    assert changes(state, snapshot(model)) and changes(state, snapshot(model), stateful=True) == []
