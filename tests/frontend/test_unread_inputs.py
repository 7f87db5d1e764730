"""An input the traced graph never reads while the model's output moves with it: refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import analyzer
from analyzer.errors import TraceError
from analyzer.frontend.tracing import trace


class WeightedL1(nn.Module):
    """F.l1_loss with an input weight: PyTorch drops the weight under __torch_function__."""

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(x, torch.zeros_like(x), weight=w, reduction="none")


class IgnoresSecond(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 * x


@pytest.mark.parametrize("frontend", ["auto", "fx", "real"])
def test_a_dropped_weight_is_refused_in_every_frontend(frontend: str) -> None:
    with pytest.raises(TraceError, match="depends on input 'w'"):
        trace(WeightedL1(), (torch.randn(2, 3), torch.randn(2, 3)), frontend=frontend)


def test_an_input_the_model_ignores_is_fine() -> None:
    traced = trace(IgnoresSecond(), (torch.randn(2, 3), torch.randn(2, 3)))
    assert traced.frontend == "export"


def test_a_keyword_input_is_checked_too() -> None:
    x, w = torch.randn(2, 3), torch.randn(2, 3)
    with pytest.raises(TraceError, match="never reads"):
        trace(WeightedL1(), (x,), example_kwargs={"w": w})


def test_the_callers_module_and_random_state_are_left_alone() -> None:
    module, inputs = IgnoresSecond(), (torch.randn(2, 3), torch.randn(2, 3))
    state = torch.random.get_rng_state()
    trace(module, inputs)
    assert torch.equal(state, torch.random.get_rng_state())


class ChainMatmulOut(nn.Module):
    """chain_matmul(x, y, out=z): PyTorch drops out= under __torch_function__, leaving the
    product as dead code and z's zeros as the output."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = torch.zeros(2, 2)
        torch.chain_matmul(x, y, out=z)
        return z


def test_an_input_read_only_by_dead_code_is_unread() -> None:
    with pytest.raises(TraceError, match="depends on input 'x'"):
        trace(ChainMatmulOut(), (torch.randn(2, 3), torch.randn(3, 2)))


class InPlaceProduct(nn.Module):
    """c = x.clone(); c.mul_(y): y is read by a write whose result nothing uses."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c = x.clone()
        c.mul_(y)
        return c


@pytest.mark.parametrize("frontend", ["export", "fx", "real"])
def test_an_input_read_by_a_write_is_read(frontend: str) -> None:
    trace(InPlaceProduct(), (torch.randn(2, 3), torch.randn(2, 3)), frontend=frontend)


def test_a_write_whose_result_nothing_uses_still_reads_its_operands() -> None:
    """In a graph that keeps writes (not functionalised), ``mul_(c, y)`` reads y."""
    from analyzer.frontend.unread_inputs import _read_by_the_outputs

    traced = trace(InPlaceProduct(), (torch.randn(2, 3), torch.randn(2, 3)), frontend="export")
    graph = torch.fx.Graph()
    x, y = graph.placeholder("x"), graph.placeholder("y")
    c = graph.call_function(torch.ops.aten.clone.default, (x,))
    graph.call_function(torch.ops.aten.mul_.Tensor, (c, y))
    graph.output((c,))
    traced.graph = graph
    assert y in _read_by_the_outputs(traced)


def test_one_tensor_passed_in_several_places_is_one_input() -> None:
    """``nn.MultiheadAttention`` reads only ``query`` when ``query is key is value``: the
    graph leaves key and value unread, yet the input they share is read, and moving one of
    them alone would take the other branch. Not a refusal."""
    attention = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(1, 4, 8)
    result = analyzer.analyze(attention, (x, x, x))
    assert {s.kind for s in result.sites} == {"contraction", "normalization"}
