"""Classes 6 and 7: the mode the caller handed in, and frozen control flow.

The model is analysed in the mode it was handed (a BatchNorm model in ``train()`` normalises
with batch statistics: degree ``inf`` and a normalisation site), the JSON says which
(``"mode"``), and the caller's module is left as it was (checked for every case by the tests).
The real frontend runs the model once and freezes its Python control flow: its claims hold
in the example input's region, and a warning must say so every time. The truths below are
those of the region around the example input (which is also the worst piece).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tests.adversarial.catalogue import (
    ANY_SITE,
    GATING,
    case,
    mode_is,
    truth,
    warns_when_frozen,
)


@case("mode", truth(math.inf, ANY_SITE), checks=(mode_is("train"),))
def batchnorm_train_mode():
    """Linear → BatchNorm1d handed in train(): batch statistics, a normalisation."""
    return nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train(), (torch.randn(6, 4),)


@case("mode", truth(1), checks=(mode_is("train"),))
def dropout_train_mode():
    """Linear → Dropout(0.5) handed in train(): x times a fixed (seeded) mask, linear."""
    return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train(), (torch.randn(3, 4),)


class TrainingBranch(nn.Module):
    """Multiplies by the batch mean only in training mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return x * x.mean(0, keepdim=True)
        return x


@case("mode", truth(2, ANY_SITE), checks=(mode_is("train"),))
def training_flag_branch():
    """if self.training: x·mean(x) else x, handed in train(): degree 2."""
    return TrainingBranch().train(), (torch.randn(3, 4),)


@case("mode", truth(1), checks=(mode_is("eval"),))
def batchnorm_eval_mode():
    """Linear → BatchNorm1d handed in eval(): running statistics, affine (a control)."""
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    model[1].running_mean.normal_()
    model[1].running_var.uniform_(0.5, 2.0)
    return model.eval(), (torch.randn(6, 4),)


@case("mode", truth(math.inf, ANY_SITE), checks=(mode_is("eval"),))
def batchnorm_without_running_stats_eval():
    """BatchNorm1d(track_running_stats=False) in eval(): batch statistics all the same."""
    return nn.BatchNorm1d(4, track_running_stats=False).eval(), (torch.randn(6, 4),)


# --- class 7: frozen control flow ----------------------------------------------------
class DataBranch(nn.Module):
    """x·flip(x) when the input's sum is positive, relu(x) otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * x.flip(-1)
        return torch.relu(x)


@case("frozen", truth(2, GATING), step=0.2, checks=(warns_when_frozen,))
def data_dependent_branch():
    """A Python `if` on x.sum() > 0; the example input (all entries in [2, 3]) takes the
    product branch: x_i·x_{n-1-i}."""
    return DataBranch(), (torch.rand(2, 4) + 2,)


class HalvingLoop(nn.Module):
    """Halves the input until its largest entry is at most 1: a data-dependent loop count."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x * 1.0
        while h.abs().max() > 1:
            h = h / 2
        return h


@case("frozen", truth(1), checks=(warns_when_frozen,))
def data_dependent_loop():
    """while max|h| > 1: h = h/2: x / 2^k, the count k frozen at the example's."""
    return HalvingLoop(), (4 * torch.randn(2, 4),)


@case("frozen", truth(1), frontend="real", checks=(warns_when_frozen,))
def real_frontend_requested():
    """A Linear → ReLU → Linear traced with frontend="real" on purpose: still a warning."""
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), (torch.randn(2, 4),)
