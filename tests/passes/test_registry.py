"""The op registry: one entry per op, every class valid, duplicates refused."""

from __future__ import annotations

import pytest

from analyzer.passes.registry import PRIMITIVE_CLASSES, REGISTRY, Rule, lookup, register


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
