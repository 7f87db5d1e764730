"""The analysis object as the API hands it out: facts and classes by node or by name,
keyword inputs, a one-line repr, the versions in the JSON."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import analyzer
from analyzer.errors import SpecError


class Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.a(x) * mask


def test_facts_and_classes_by_node_or_by_name() -> None:
    result = analyzer.analyze(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), (torch.randn(2, 4),))
    node = next(n for n in result.classes if n.name == "linear")
    assert result.facts["linear"] == result.facts[node]
    assert result.classes["linear"] == result.classes[node] == "matmul"
    assert "relu" in result.classes and node in result.facts
    assert result.classes.get("no_such_node") is None
    with pytest.raises(KeyError):
        result.facts["no_such_node"]


def test_keyword_inputs() -> None:
    result = analyzer.analyze(
        Masked(), (torch.randn(2, 4),), example_kwargs={"mask": torch.randn(2, 4)}
    )
    assert result.circuit_class == ["gating", "matmul"]
    assert [item["name"] for item in result.to_json()["metadata"]["inputs"]] == ["x", "mask"]
    with pytest.raises(SpecError):
        analyzer.analyze(Masked())


def test_repr_is_one_line_and_the_json_has_versions() -> None:
    result = analyzer.analyze(nn.Linear(3, 2), (torch.randn(1, 3),), model="tiny")
    assert repr(result) == (
        "<Analysis tiny: 5 nodes, primitive set [matmul], 0 input-by-input sites, degree 1>"
    )
    versions = result.to_json()["metadata"]["versions"]
    assert versions["torch"] == torch.__version__ and versions["analyzer"] == analyzer.__version__
