"""Values that leave torch while the ``real`` frontend records a model: reads are marked in
the graph and make what comes back input-dependent, writes from Python are refused with a
paragraph that names them, and the module's own tensors stay constants."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import analyzer
from analyzer.errors import TraceError
from analyzer.frontend.dialect import op_name
from analyzer.passes.escapes import escaped_constants
from tests.adversarial.catalogue import Fn
from tests.adversarial.oracle import Oracle


def _trace(forward, *inputs: torch.Tensor, **children):
    with warnings.catch_warnings(action="ignore"):
        return analyzer.trace(Fn(forward, **children), inputs, frontend="real")


def test_a_numpy_read_is_marked_and_the_constant_made_from_it_follows_the_input() -> None:
    traced = _trace(lambda m, x: x * torch.from_numpy(x.numpy()[:, ::-1].copy()), torch.randn(2, 4))
    marks = [n for n in traced.graph.nodes if op_name(n) == "analyzer.left_torch"]
    assert [n.args[1] for n in marks] == ["numpy"]
    assert len(escaped_constants(traced)) == 1
    result = analyzer.analyze(traced)
    assert result.output_fact.is_continuous and result.degree == "inf"
    product = [s for s in result.sites if s.node.name == "mul"]
    assert [s.kind for s in product] == ["gating"]
    # the witness of the constant's side runs through the read, back to the input
    paths = result.to_json()["input_products"][-1]["paths"]
    assert any(p[0] == "arg0_1" and "left_torch" in p for p in paths), paths
    (warning,) = [w for w in result.warnings if "values left torch" in w]
    assert "Tensor.numpy at test_escaping.py:" in warning


def test_the_truth_the_analysis_must_cover_is_a_product() -> None:
    """The oracle (finite differences on the Python model) sees the product the recording
    froze: cross derivatives between entries, degree 2."""
    module = Fn(lambda m, x: x * torch.from_numpy(x.detach().numpy()[:, ::-1].copy()))
    measured = Oracle(module, (torch.randn(2, 4),), {}).measure()
    assert measured.cross and measured.degree_consistent_with(2)


def test_module_tensors_after_an_escape_stay_constants() -> None:
    def forward(m, x):
        x.tolist()
        return x * m.scale + m.shift

    module = Fn(forward, shift=torch.ones(4))  # a buffer
    module.scale = torch.arange(4.0)  # a plain attribute: neither parameter nor buffer
    with warnings.catch_warnings(action="ignore"):
        traced = analyzer.trace(module, (torch.randn(2, 4),), frontend="real")
    assert escaped_constants(traced) == {}
    assert analyzer.analyze(traced).degree == "1"


def test_a_fresh_constant_after_an_escape_is_suspect() -> None:
    def forward(m, x):
        x.tolist()
        return x * torch.tensor([1.0, 2.0, 3.0, 4.0])

    traced = _trace(forward, torch.randn(2, 4))
    assert len(escaped_constants(traced)) == 1
    assert analyzer.analyze(traced).degree == "inf"  # it may be made of what was read


@pytest.mark.parametrize(
    ("forward", "named"),
    [
        (lambda m, x: x.clone().apply_(lambda v: v * v) + x, "Tensor.apply_"),
        (lambda m, x: x.clone().map_(x, lambda a, b: a * b) + x, "Tensor.map_"),
    ],
)
def test_a_write_from_python_is_refused_by_name(forward, named: str) -> None:
    with pytest.raises(TraceError) as refused, warnings.catch_warnings(action="ignore"):
        analyzer.analyze(Fn(forward), (torch.randn(2, 4),))
    message = str(refused.value)
    assert "real: TraceError: the forward writes into a tensor from outside torch" in message
    assert f"values written by {named} at test_escaping.py:" in message


def test_a_write_through_a_numpy_view_is_refused() -> None:
    def forward(m, x):
        y = x.detach().clone()
        view = np.asarray(y)
        view *= view
        return y + x

    with pytest.raises(TraceError, match="values written through a numpy view"):
        _trace(forward, torch.randn(2, 4))


def test_a_numpy_view_only_read_is_not_a_write() -> None:
    def forward(m, x):
        y = x.detach().clone()
        total = float(np.asarray(y).sum())
        y.add_(1.0)  # a torch write after the numpy view: recorded, not refused
        return y * total

    traced = _trace(forward, torch.randn(2, 4))
    assert analyzer.analyze(traced).degree == "inf"


def test_a_custom_function_running_numpy_is_not_static() -> None:
    class NumpyExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.from_numpy(np.exp(x.detach().numpy()))

        @staticmethod
        def backward(ctx, grad):
            return grad

    with warnings.catch_warnings(action="ignore"):
        result = analyzer.analyze(Fn(lambda m, x: NumpyExp.apply(x)), (torch.randn(3),))
    assert result.traced.frontend == "real"
    assert result.output_fact.is_continuous and result.degree == "inf"
    assert not result.piecewise_affine


def test_torch_reading_its_own_storage_is_no_escape() -> None:
    """make_fx's fake-tensor conversion reads ``untyped_storage`` of the inputs: that is the
    tracer's business, not the model's, and a plain linear layer has no escape."""
    from analyzer.frontend.tracing import trace

    traced = trace(torch.nn.Linear(3, 2), (torch.randn(1, 3),), frontend="fx")
    assert traced.metadata["escapes"] == []
    assert not any("values left torch" in w for w in traced.warnings)
