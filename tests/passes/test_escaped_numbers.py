"""A number read out of the graph (``.item()`` under the ``real`` frontend) adds a site to
the op it reaches, never replaces that op's own: a fused attention keeps its two
contractions and the implied K transpose, a ``baddbmm`` its contraction; and the number may
be any value read before it, not only the latest read."""

from __future__ import annotations

import warnings

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

import analyzer
from analyzer.analysis import analyze_traced
from analyzer.frontend.dialect import InputKind, TracedModel
from analyzer.passes.sites import ESCAPED_PART

aten = torch.ops.aten


class ScaledByItem(nn.Module):
    """Attention whose ``scale`` is a Python number read from the query."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        largest = q.abs().max().item()
        return F.scaled_dot_product_attention(q, k, v, scale=1 / largest)


class GuardedBaddbmm(nn.Module):
    """A guard on a value read from q, then GPT-NeoX's ``baddbmm(…, alpha=0.5)``."""

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        if q.abs().max().item() > 0:
            return torch.baddbmm(torch.zeros(2, 3, 3), q, k.transpose(1, 2), alpha=0.5)
        return q.sum(-1, keepdim=True).expand(2, 3, 3)


def _analyze(module: nn.Module, *inputs: torch.Tensor) -> dict:
    with warnings.catch_warnings(action="ignore"):
        return analyzer.analyze(module, inputs, frontend="real").to_json()


def test_attention_scaled_by_an_escaped_number_keeps_both_contractions() -> None:
    q, k, v = (torch.randn(1, 2, 3, 4) for _ in range(3))
    doc = _analyze(ScaledByItem(), q, k, v)
    parts = [(s["kind"], s.get("part")) for s in doc["input_products"]]
    assert ("contraction", "scores") in parts and ("contraction", "mix") in parts
    assert ("gating", ESCAPED_PART) in parts  # and what the number adds
    implied = [t for t in doc["dynamic_transposes"] if t["implied"]]
    assert [t["feeds_contraction"] for t in implied] == [True]  # the K transpose
    assert "matmul" in doc["circuit_class"] and "transpose" in doc["circuit_class"]
    assert doc["degree"] == "inf"


def test_baddbmm_after_a_guard_keeps_its_contraction() -> None:
    doc = _analyze(GuardedBaddbmm(), torch.randn(2, 3, 4), torch.randn(2, 3, 4))
    kinds = [(s["op"], s["kind"], s.get("part")) for s in doc["input_products"]]
    assert ("aten.baddbmm", "contraction", None) in kinds
    assert ("aten.baddbmm", "gating", ESCAPED_PART) in kinds
    assert [t["feeds_contraction"] for t in doc["dynamic_transposes"]] == [True]
    assert "matmul" in doc["circuit_class"]


def test_an_op_with_no_site_of_its_own_gets_the_escaped_site_alone() -> None:
    """x · x.sum().item(): the mul's one continuous factor, and the number (no part)."""
    module = nn.Module()
    module.forward = lambda x: x * x.sum().item()  # type: ignore[method-assign]
    doc = _analyze(module, torch.randn(2, 4))
    assert [(s["kind"], s.get("part")) for s in doc["input_products"]] == [("gating", None)]


def test_a_number_may_be_any_earlier_read_not_only_the_latest() -> None:
    """A continuous read, then a discrete one (a guard), then x · 2.5: the literal may be
    the continuous value, so the product is of unbounded degree and a site."""
    graph = fx.Graph()
    x = graph.placeholder("x")
    x.meta["val"] = torch.empty(4, device="meta")
    largest = graph.call_function(aten.amax.default, (x,))
    graph.call_function(aten.item.default, (largest,))
    flags = graph.call_function(aten.isfinite.default, (x,))
    every = graph.call_function(aten.all.default, (flags,))
    graph.call_function(aten.item.default, (every,))  # the guard's read: discrete
    graph.output((graph.call_function(aten.mul.Tensor, (x, 2.5)),))
    result = analyze_traced(TracedModel(graph, {"x": InputKind.INPUT}, "real", "hand-built"))
    assert result.degree == "inf"
    assert [s.kind for s in result.sites] == ["gating"]
    assert "item_default (a Python number here)" in result.sites[0].operand_names  # the first


class RowChosenByPython(nn.Module):
    """max(rows of y, key=float ∘ sum) · x: Python compares .item() values to pick a row."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        best = max(y.unbind(0), key=lambda row: float(row.sum()))
        return x * best


def test_a_value_python_chose_by_what_it_read_is_piecewise() -> None:
    """The oracle: the picked row switches with y, so x · best is a product only piece by
    piece; the recording froze one pick."""
    x, y = torch.randn(2, 4), torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]])
    flipped = torch.flip(y, (0,))
    assert torch.equal(RowChosenByPython()(x, y), x * y[0])
    assert torch.equal(RowChosenByPython()(x, flipped), x * flipped[1])
    doc = _analyze(RowChosenByPython(), x, y)
    assert doc["piecewise"] and doc["degree"] == "2"


def test_a_static_output_chosen_by_python_is_discrete() -> None:
    """ones_like(x) if x.sum() > 0 else zeros_like(x): the recording holds one branch,
    made of no value of the input; which one is Python's choice."""
    module = nn.Module()
    module.forward = lambda x: (  # type: ignore[method-assign]
        torch.ones_like(x) if x.sum().item() > 0 else torch.zeros_like(x)
    )
    doc = _analyze(module, torch.randn(3))
    assert doc["output_dependence"] == "discrete" and doc["piecewise"]
