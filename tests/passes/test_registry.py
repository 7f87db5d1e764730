"""The op registry: one entry per op, every class valid, duplicates refused."""

from __future__ import annotations

import pytest
import torch
import torch.fx as fx
from torch import nn

from analyzer.analysis import analyze
from analyzer.passes.registry import (
    PRIMITIVE_CLASSES,
    REGISTRY,
    Rule,
    entry_for,
    lookup,
    register,
)


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
