"""``degree_reasons``: the first op on each path that makes the output non-polynomial or
piecewise, in the JSON, the summary, report.md and the report page."""

from __future__ import annotations

import torch

from analyzer import analyze
from analyzer.render.html import notebook_html
from analyzer.render.markdown import markdown_report
from analyzer.render.summary import render_summary


class _Branches(torch.nn.Module):
    """tanh on one branch, a ReLU kink on another, exp of the tanh later (not first)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        smooth = torch.exp(torch.tanh(self.a(x)))
        kinked = torch.relu(self.b(x))
        return smooth + kinked


class _Hidden(torch.nn.Module):
    """A non-polynomial value read only through its sign: the output is not infinite."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 + (torch.tanh(x) > 0).float()


def test_the_first_op_on_each_path_is_named() -> None:
    result = analyze(_Branches(), (torch.randn(2, 3),))
    assert result.degree == "inf"
    assert result.degree_reasons() == {
        "infinite": ["tanh (aten.tanh)"],
        "piecewise": ["relu (aten.relu)"],
    }
    assert result.to_json()["degree_reasons"] == result.degree_reasons()


def test_a_polynomial_has_no_reason() -> None:
    result = analyze(torch.nn.Bilinear(2, 2, 1), (torch.randn(1, 2), torch.randn(1, 2)))
    assert result.degree == "2" and result.degree_reasons() == {"infinite": [], "piecewise": []}


def test_a_value_that_never_reaches_the_output_is_not_a_reason() -> None:
    result = analyze(_Hidden(), (torch.randn(2, 3),))
    reasons = result.degree_reasons()
    assert result.degree == "1" and reasons["infinite"] == []
    assert all("tanh" not in op for op in reasons["piecewise"])  # the comparison kinks it
    assert reasons["piecewise"] and result.to_json()["piecewise"]


def test_every_view_names_the_reasons() -> None:
    result = analyze(_Branches(), (torch.randn(2, 3),))
    said = "not a polynomial from tanh (aten.tanh); piecewise from relu (aten.relu)"
    assert said in render_summary(result)
    assert said in markdown_report(result)
    assert said in notebook_html(result)
