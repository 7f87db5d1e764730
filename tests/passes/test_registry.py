"""The op registry: one entry per op, every class valid, duplicates refused."""

from __future__ import annotations

import pytest
import torch
import torch.fx as fx
from torch import nn

from analyzer.analysis import analyze
from analyzer.passes.registry import PRIMITIVE_CLASSES, REGISTRY, Rule, register
from analyzer.passes.registry_lookup import entry_for, lookup


def test_every_entry_has_a_known_class() -> None:
    assert all(entry.primitive in PRIMITIVE_CLASSES for entry in REGISTRY.values())


def test_registering_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        register("aten.linear", "matmul", Rule.CONTRACTION)


def test_fused_ops_declare_their_semantics() -> None:
    attention = lookup("aten.scaled_dot_product_attention")
    assert attention is not None and attention.transposes == 1
    assert "normalization" in attention.implies
    lstm = lookup("aten.lstm")
    assert lstm is not None and lstm.gating_site


def _node(target) -> fx.Node:
    graph = fx.Graph()
    a, b = graph.placeholder("a"), graph.placeholder("b")
    return graph.call_function(target, (a, b))


def test_an_overload_entry_wins_over_its_packet() -> None:
    """``torch.max(a, b)`` is an elementwise maximum (relu), not the reduction ``aten.max``
    (a selection); ``bernoulli.p`` draws with a constant probability (no input dependence),
    unlike ``bernoulli`` of an input probability."""
    maximum = entry_for(_node(torch.ops.aten.max.other))
    assert maximum is not None and maximum.primitive == "relu"
    assert maximum is lookup("aten.max.other") and maximum is not lookup("aten.max")
    drawn = entry_for(_node(torch.ops.aten.bernoulli.p))
    assert drawn is lookup("aten.bernoulli.p") and drawn is not lookup("aten.bernoulli")
    packet = entry_for(_node(torch.ops.aten.max.dim))  # no overload entry: the packet's
    assert packet is lookup("aten.max")


def test_torch_max_of_two_inputs_is_relu_end_to_end() -> None:
    class Maximum(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.max(a, b)

    result = analyze(Maximum(), (torch.randn(3), torch.randn(3)))
    doc = result.to_json()
    assert doc["degree"] == "1" and doc["piecewise_affine"]
    assert {k: v for k, v in result.primitive_counts().items() if v} == {"relu": 1}


def test_register_stores_one_entry_under_each_name() -> None:
    names = "tests.fake_product tests.fake_product_"
    try:
        register(names, "matmul", Rule.CONTRACTION, multiplied=(0, 2), transposes=2)
        first, second = lookup("tests.fake_product"), lookup("tests.fake_product_")
        assert first is second and first is not None
        assert (first.primitive, first.rule) == ("matmul", Rule.CONTRACTION)
        assert (first.multiplied, first.transposes) == ((0, 2), 2)
    finally:
        for name in names.split():
            REGISTRY.pop(name, None)


@pytest.mark.parametrize(
    ("name", "primitive", "rule", "multiplied"),
    [
        ("aten.linear", "matmul", Rule.CONTRACTION, (0, 1)),
        ("aten.addmm", "matmul", Rule.CONTRACTION, (1, 2)),  # bias, then the two factors
        ("aten.baddbmm", "matmul", Rule.CONTRACTION, (1, 2)),
        ("aten.einsum", "matmul", Rule.CONTRACTION, (-1,)),  # every tensor of the list
        ("aten.bilinear", "matmul", Rule.CONTRACTION, (0, 1, 2)),
        ("aten.var", "nonlinearity", Rule.SQUARE_REDUCTION, None),
        ("aten.cov", "matmul", Rule.COVARIANCE, None),  # rational in its aweights
        ("aten.max.other", "relu", Rule.RELU, None),
    ],
)
def test_entries_that_encode_a_decision(name, primitive, rule, multiplied) -> None:
    """Which operands a contraction multiplies (``addmm``'s first is the bias), and the
    rule of ops whose class is not their name's."""
    entry = lookup(name)
    assert entry is not None and (entry.primitive, entry.rule) == (primitive, rule)
    if multiplied is not None:
        assert tuple(entry.multiplied) == multiplied
    assert lookup("aten.corrcoef").self_contraction and lookup("aten.linear").transposes == 1


def test_cov_of_one_input_is_its_own_contraction() -> None:
    """``cov(x)`` contracts ``x`` with itself: a contraction site, degree 2."""

    class Covariance(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cov(x)

    doc = analyze(Covariance(), (torch.randn(3, 5),)).to_json()
    assert doc["degree"] == "2"
    assert [(s["kind"], s["op"]) for s in doc["input_products"]] == [("contraction", "aten.cov")]


# smooth ops with two tensor arguments that multiply nothing between them (reviewed)
_SMOOTH_WITHOUT_PRODUCT = {
    "aten.ctc_loss": "the targets are integers",
    "aten._ctc_loss": "the targets are integers",
    "aten.triplet_margin_loss": "norms of differences: pointwise squares, no site",
    "aten.hypot": "√(a² + b²): pointwise squares of each, no site",
    "aten.logaddexp": "max(a, b) + log1p(exp(−|a − b|)): a function of a − b",
    "aten.logaddexp2": "as logaddexp, base 2",
    "aten.fmod": "a − b·trunc(a/b): b times a piecewise constant, piecewise affine",
    "aten.remainder": "a − b·floor(a/b): as fmod",
    "aten.copysign": "|a|·sign(b): a times a piecewise constant",
    "aten.logspace": "base^(start + (end − start)·t): a power of an affine exponent",
}


def test_smooth_ops_of_several_tensors_declare_what_they_multiply() -> None:
    """A smooth op that reads two floating tensors (``gradient``'s tensor spacing divides
    the differences) names its multiplied operands, or is reviewed above: otherwise a
    product of two inputs through it would get no site."""
    undeclared = set()
    for name, entry in REGISTRY.items():
        packet = getattr(torch.ops.aten, name.removeprefix("aten."), None)
        if entry.rule is not Rule.SMOOTH or entry.multiplied or entry.self_contraction:
            continue  # a self-contraction is a site whenever any operand varies
        if packet is None:
            continue
        for overload in packet.overloads():
            schema = getattr(packet, overload)._schema
            read = [
                a for a in schema.arguments
                if "Tensor" in str(a.type) and not (a.alias_info and a.alias_info.is_write)
            ]  # fmt: skip
            if len(read) >= 2:
                undeclared.add(name)
    assert undeclared == set(_SMOOTH_WITHOUT_PRODUCT), sorted(undeclared)


def test_a_gradient_with_input_spacing_is_a_site() -> None:
    """``gradient(y, spacing=(c,))`` divides differences of y by differences of c."""

    class Spaced(nn.Module):
        def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return torch.gradient(y, spacing=(torch.cumsum(1.0 + x * x, 0),))[0]

    doc = analyze(Spaced(), (torch.randn(5), torch.randn(5))).to_json()
    assert [s["kind"] for s in doc["input_products"]] == ["gating"]
