"""The tracing frontends hand the passes one dialect."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.errors import SpecError, TraceError
from analyzer.frontend.tracing import flatten_tensors, trace
from analyzer.frontend.zoo import build_zoo_model


@pytest.mark.parametrize("frontend", ["export", "fx", "real"])
def test_frontends_agree_on_the_verdict(frontend: str) -> None:
    module, args = build_zoo_model("swiglu_mlp")
    result = analyze(module, args, frontend=frontend)
    assert result.traced.frontend == frontend
    assert result.circuit_class == ["gating", "matmul", "nonlinearity"]
    assert [result.module_of(s.node) for s in result.sites] == [""]
    assert {result.module_of(n) for n in result.classes} >= {"gate", "up", "down"}


def test_real_frontend_warns_that_control_flow_is_frozen() -> None:
    result = analyze(*build_zoo_model("mlp"), frontend="real")
    assert any("froze" in w for w in result.warnings)


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # Python control flow on a value
            return x * 2
        return x * 3


def test_auto_falls_back_to_real_and_says_why() -> None:
    result = analyze(DataDependent(), (torch.ones(3),))
    assert result.traced.frontend == "real"
    assert any(w.startswith("frontend export") for w in result.warnings)
    assert any(w.startswith("frontend fx") for w in result.warnings)


def test_all_frontends_failing_is_a_trace_error_with_each_reason() -> None:
    class Raises(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom from forward")

    with pytest.raises(TraceError) as caught:
        trace(Raises(), (torch.ones(2),))
    message = str(caught.value)
    assert "boom from forward" in message and "export:" in message and "real:" in message


def test_bad_frontend_name() -> None:
    with pytest.raises(SpecError, match="frontend"):
        trace(nn.Linear(2, 2), (torch.ones(1, 2),), frontend="magic")


def test_outputs_of_any_structure_are_flattened() -> None:
    class Structured(nn.Module):
        def forward(self, x: torch.Tensor) -> dict:
            return {"a": x * 2, "rest": [x + 1, (x.relu(), None)]}

    traced = trace(Structured(), (torch.randn(2),))
    assert len(traced.output_node.args[0]) == 3
    assert len(flatten_tensors({"k": [torch.ones(1)] * 2})) == 2


def test_inputs_take_the_forward_parameter_names() -> None:
    traced = trace(nn.Bilinear(2, 2, 1), (torch.randn(1, 2), torch.randn(1, 2)))
    names = [n.name for n in traced.graph.nodes if n.op == "placeholder"][-2:]
    assert names == ["input1", "input2"]


def test_unknown_ops_are_worst_case_and_listed() -> None:
    @torch.library.custom_op("analyzer_test::mystery", mutates_args=())
    def mystery(x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @mystery.register_fake
    def _(x: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(x)

    class UsesMystery(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(mystery(x))

    result = analyze(UsesMystery(), (torch.randn(3),))
    assert result.unknown_ops == ["analyzer_test.mystery"]
    assert result.degree == "inf" and result.primitive_counts()["unknown"] == 1
    assert result.to_json()["unknown_ops"] == ["analyzer_test.mystery"]
