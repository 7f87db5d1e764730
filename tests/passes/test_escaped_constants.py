"""A tensor the forward made outside torch from values read out of the graph (numpy under
the ``real`` frontend) may hold any product of what was read: a ``gating`` site where an
op reads it, its operands the reads, and at the constant itself when it is returned as it
is. Products checked against the models' own algebra (an outer product, a Gram matrix)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.fx as fx
from torch import nn

import analyzer
import analyzer.frontend.escaping  # registers analyzer::left_torch, the mark of a read
from analyzer.analysis import analyze_traced
from analyzer.frontend.dialect import InputKind, TracedModel
from analyzer.passes.sites import ESCAPED_VALUES_PART

aten = torch.ops.aten


def _analyze(forward, *inputs: torch.Tensor) -> dict:
    module = nn.Module()
    module.forward = forward  # type: ignore[method-assign]
    with warnings.catch_warnings(action="ignore"):
        return analyzer.analyze(module, inputs, frontend="real").to_json()


def _outer(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.outer(x.detach().numpy(), y.detach().numpy()))


def _gram(x: torch.Tensor) -> torch.Tensor:
    a = x.detach().numpy()
    return torch.from_numpy(a @ a.T)


def test_the_numpy_bodies_multiply_their_inputs() -> None:
    """The oracle: the mixed derivative of outer(x, y) and of a·aᵀ is not zero."""
    x, y = torch.randn(3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    assert torch.equal(_outer(x, y), torch.outer(x, y))
    a = torch.randn(2, 3, dtype=torch.float64)
    assert torch.allclose(_gram(a), a @ a.T)


def test_an_outer_product_made_in_numpy_is_a_site_of_both_reads() -> None:
    doc = _analyze(_outer, torch.randn(3), torch.randn(4))
    (site,) = doc["input_products"]
    assert site["kind"] == "gating" and "part" not in site
    sources = {path[0] for path in site["paths"]}
    assert len(site["operands"]) == 2 and len(sources) == 2  # one path from each input
    assert doc["degree"] == "inf" and doc["output_dependence"] == "continuous"


def test_a_gram_matrix_made_in_numpy_is_a_site_of_its_one_read() -> None:
    doc = _analyze(_gram, torch.randn(2, 3))
    assert [s["kind"] for s in doc["input_products"]] == ["gating"]


def test_a_product_with_the_input_keeps_its_own_site() -> None:
    """x · from_numpy(a·aᵀ): the constant's products where it enters torch, and the mul's."""
    doc = _analyze(lambda x: x * _gram(x.reshape(2, 2)).reshape(4), torch.randn(4))
    ops = sorted((s["op"], s["kind"]) for s in doc["input_products"])
    assert ops == [("aten.lift_fresh_copy", "gating"), ("aten.mul", "gating")]


def _recording(use) -> tuple[TracedModel, fx.Node, fx.Node]:
    """A hand-built recording: x read out of the graph, a constant made after it, and
    ``use(graph, x, constant)`` returned."""
    graph = fx.Graph()
    x = graph.placeholder("x")
    x.meta["val"] = torch.empty(4, device="meta")
    graph.call_function(torch.ops.analyzer.left_torch.default, (x, "numpy"))
    made = graph.get_attr("_tensor_constant0")
    graph.output((use(graph, x, made),))
    return TracedModel(graph, {"x": InputKind.INPUT}, "real", "hand-built"), x, made


def test_an_op_with_a_site_of_its_own_gains_the_escaped_one_beside_it() -> None:
    traced, _, _ = _recording(lambda g, x, c: g.call_function(aten.mul.Tensor, (x, c)))
    result = analyze_traced(traced)
    assert sorted((s.kind, s.part or "") for s in result.sites) == [
        ("gating", ""), ("gating", ESCAPED_VALUES_PART)
    ]  # fmt: skip


def test_a_constant_returned_as_it_is_holds_its_site() -> None:
    traced, x, made = _recording(lambda g, x, c: c)
    result = analyze_traced(traced)
    (site,) = result.sites
    assert (site.node, site.kind) == (made, "gating")
    assert [read.args[0] for read in site.operands] == [x]  # its operand: the read of x


def test_a_constant_made_before_any_read_has_no_site() -> None:
    """Static tensors built by the forward (not from a read) are not suspect."""
    doc = _analyze(lambda x: x + torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.randn(4))
    assert doc["input_products"] == [] and doc["degree"] == "1"
