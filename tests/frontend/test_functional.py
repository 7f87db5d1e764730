"""Functionalization: in-place writes become functional ops the passes can follow, only
when a graph has any (the 70B graph is not traced twice), and torch.cond is inlined."""

from __future__ import annotations

import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.frontend.functional import (
    functional_program,
    inline_conditionals,
    mutating_nodes,
    storage_roots,
)
from analyzer.frontend.tracing import trace


class SetItem(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x)
        out[:, 0] = x[:, 0] * x[:, 1]
        return out


class Cache(nn.Module):
    """Attention that writes its keys and values into a cache buffer before reading it."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("keys", torch.zeros(2, 5, 4))
        self.register_buffer("values", torch.zeros(2, 5, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.keys[:, :3] = x
        self.values[:, :3] = 2 * x
        return torch.softmax(x @ self.keys.transpose(1, 2), -1) @ self.values


def test_a_functional_graph_is_returned_as_it_is() -> None:
    program = torch.export.export(nn.Linear(3, 3), (torch.randn(2, 3),), strict=False)
    assert mutating_nodes(program.graph) == []
    assert functional_program(program) is program


def test_writes_into_views_are_followed() -> None:
    result = analyze(SetItem(), (torch.randn(2, 3),))
    assert result.degree == "2" and [s.kind for s in result.sites] == ["gating"]
    assert mutating_nodes(result.traced.graph) == []


def test_a_cache_written_in_place_keeps_both_contractions_and_is_not_an_output() -> None:
    module = Cache()
    result = analyze(module, (torch.randn(2, 3, 4),))
    assert [s.kind for s in result.sites if s.kind == "contraction"] == ["contraction"] * 2
    assert sorted(result.traced.output_roles) == ["buffer:keys", "buffer:values", "output"]
    assert module.keys.abs().sum() == 0  # the caller's buffers are left as they were


def test_the_real_frontend_is_made_functional_too() -> None:
    result = analyze(trace(SetItem(), (torch.randn(2, 3),), frontend="real"))
    assert result.degree == "2" and result.sites


def test_storage_roots_follow_views_and_in_place_results() -> None:
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    view = graph.call_function(torch.ops.aten.select.int, (x, 0, 1))
    written = graph.call_function(torch.ops.aten.mul_.Tensor, (view, 2.0))
    graph.output(written)
    roots = storage_roots(graph)
    assert roots[view] is x and roots[written] is x


class Conditional(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cond(x.sum() > 0, lambda z: z * z.flip(-1), lambda z: torch.relu(z), (x,))


def check_cond_is_both_branches_and_a_selection() -> None:
    program = torch.export.export(Conditional(), (torch.rand(2, 3) + 1,), strict=False)
    inlined = functional_program(program)
    targets = {n.target for n in inlined.graph.nodes if n.op == "call_function"}
    assert torch.ops.higher_order.cond not in targets
    assert torch.ops.aten.where.self in targets and torch.ops.aten.relu.default in targets
    result = analyze(Conditional(), (torch.rand(2, 3) + 1,))
    assert result.degree == "2" and [s.kind for s in result.sites] == ["gating"]
    assert result.output_fact.piecewise  # which branch runs depends on the data
    assert inline_conditionals(inlined.graph_module) == 0  # nothing left to inline


def test_cond_is_both_branches_and_a_selection() -> None:
    """In the suite's process: dynamo's caches are emptied after every test (tests/conftest.py);
    before that, an earlier test's compiled state made torch.export of a ``torch.cond`` fail
    inside dynamo here, and this check ran in a fresh interpreter."""
    check_cond_is_both_branches_and_a_selection()
