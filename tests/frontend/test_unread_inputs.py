"""An input the traced graph never reads while the model's output moves with it: refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

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
