"""Values that leave torch while the ``real`` frontend records a model: reads are marked in
the graph and make what comes back input-dependent, writes from Python are refused with a
paragraph that names them, and the module's own tensors stay constants."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch

import analyzer
from analyzer.errors import TraceError
from analyzer.frontend.dialect import op_name
from analyzer.frontend.escaping import data_sized, reads_values
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


# --- values that reach Python by other routes -----------------------------------------------
def _marks(traced) -> list[str]:
    return [n.args[1] for n in traced.graph.nodes if op_name(n) == "analyzer.left_torch"]


@pytest.mark.parametrize(
    ("forward", "op"),
    [
        (lambda m, x: torch.full((2,), float(torch.equal(x > 0, x > 0.3))), "aten.equal"),
        (
            lambda m, x: torch.full((2,), float(torch.allclose(x[0, 0], x[0, 1], atol=1.0))),
            "aten.allclose",
        ),
    ],
)
def test_a_python_bool_returned_by_an_op_is_a_read(forward, op: str) -> None:
    """``torch.equal`` and ``torch.allclose`` hand Python a bool computed from the values
    (PyTorch tags them ``data_dependent_output``): the number built from it follows x."""
    traced = _trace(forward, torch.randn(2, 4))
    (read,) = [n for n in traced.graph.nodes if op_name(n) == op]
    assert reads_values(read)
    result = analyzer.analyze(traced)
    assert str(result.output_fact.dependence) != "static"
    (warning,) = [w for w in result.warnings if "values left torch" in w]
    assert f"Python values returned by {op}" in warning


@pytest.mark.parametrize(
    ("forward", "how"),
    [
        (lambda m, x: torch.tensor(float(torch.nonzero(x > 0.5).shape[0])), "shape"),
        (lambda m, x: torch.tensor([float(x[x > 0].t().size(0))]), "size"),
        (lambda m, x: torch.full((2,), float(len(torch.unique(torch.round(x)))) + 0.5), "__len__"),
        (lambda m, x: torch.full((2,), float(torch.masked_select(x, x > 0).numel())), "numel"),
        (lambda m, x: torch.full((2,), float(len(x[x > 0].chunk(3)))), "chunk"),
        (lambda m, x: torch.full((2,), float(len(torch.unbind(x[x > 0])))), "unbind"),
        (lambda m, x: x * float(torch.bincount((x.abs() * 3).long().flatten()).shape[0]), "shape"),
    ],
)
def test_a_data_dependent_size_read_by_python_is_a_read(forward, how: str) -> None:
    traced = _trace(forward, torch.randn(2, 4))
    assert _marks(traced) == [how]
    assert str(analyzer.analyze(traced).output_fact.dependence) != "static"
    (warning,) = [w for w in traced.warnings if "a size that depends on the values" in w]
    assert "of a size, a whole number: discrete" in warning


def test_sizes_that_do_not_depend_on_the_values_are_no_read() -> None:
    """Shapes of ordinary tensors, and of an integer (not boolean) index, stay Python ints
    the passes may trust: no mark, the fill value stays a constant."""

    def forward(m, x):
        picked = x[torch.tensor([1, 0])]
        return x * float(x.shape[0] + len(picked) + picked.size(1))

    traced = _trace(forward, torch.randn(2, 4))
    assert _marks(traced) == []
    assert analyzer.analyze(traced).degree == "1"


def test_data_sized_follows_the_path_from_a_data_dependent_shape() -> None:
    g = torch.fx.Graph()
    x, index = g.placeholder("x"), g.placeholder("index")
    index.meta["val"] = torch.zeros(2, dtype=torch.int64)
    picked = g.call_function(torch.ops.aten.index.Tensor, (x, [index]))
    mask = g.call_function(torch.ops.aten.gt.Scalar, (x, 0))
    selected = g.call_function(torch.ops.aten.index.Tensor, (x, [mask]))
    doubled = g.call_function(torch.ops.aten.mul.Tensor, (selected, 2))
    memo: dict = {}
    assert [data_sized(n, memo) for n in (x, picked, mask, selected, doubled)] == [
        False, False, False, True, True,
    ]  # fmt: skip


def test_memory_read_through_data_ptr_is_a_read() -> None:
    def forward(m, x):
        import ctypes

        raw = ctypes.string_at(x.data_ptr(), x.numel() * x.element_size())
        return x * torch.frombuffer(bytearray(raw), dtype=x.dtype).view_as(x)

    traced = _trace(forward, torch.randn(2, 4))
    assert _marks(traced) == ["data_ptr"]
    result = analyzer.analyze(traced)
    assert result.degree == "inf" and not result.piecewise_affine
    # the product with the input, plus the escaped-values site of the constant's first reader
    assert "mul" in [s.node.name for s in result.sites]
    assert {s.node.name for s in result.sites} <= {"mul", "view"}  # view: the bytes' reader


def test_a_tensor_computed_in_another_thread_follows_what_the_thread_took() -> None:
    def forward(m, x):
        import threading

        out: list[torch.Tensor] = []
        worker = threading.Thread(target=lambda: out.append(x.detach() * x.detach()))
        worker.start()
        worker.join()
        return x + out[0]

    before = threading.getprofile()
    traced = _trace(forward, torch.randn(2, 4))
    assert threading.getprofile() is before  # the hook is the recording's only
    assert _marks(traced) == ["another thread"]
    result = analyzer.analyze(traced)
    assert result.degree == "inf" and not result.piecewise_affine
    assert any("values taken by another thread" in w for w in result.warnings)


def test_a_tensor_computed_by_a_pool_started_in_the_forward_is_marked() -> None:
    def forward(m, x):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return x + pool.submit(lambda: x.detach() * x.detach()).result()

    traced = _trace(forward, torch.randn(2, 4))
    assert _marks(traced) == ["another thread"]
    assert analyzer.analyze(traced).degree == "inf"


def test_a_thread_without_torch_is_no_escape() -> None:
    def forward(m, x):
        import threading

        worker = threading.Thread(target=lambda: sum(range(10)))
        worker.start()
        worker.join()
        return x * 2.0

    traced = _trace(forward, torch.randn(2, 4))
    assert _marks(traced) == [] and analyzer.analyze(traced).degree == "1"


class _DataAssigned(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("state", torch.zeros(2, 4))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.state.data = x.detach() * 2
        return y * self.state


def test_export_refuses_a_tensor_data_assignment() -> None:
    """export keeps only the assignment's type check and reads the buffer as before."""
    module = _DataAssigned()
    with pytest.raises(TraceError, match=r"the forward assigns Tensor\.data"):
        analyzer.trace(module, (torch.randn(2, 4), torch.randn(2, 4)), frontend="export")


def test_a_tensor_data_assignment_makes_the_buffer_follow_the_value() -> None:
    module = _DataAssigned()
    with warnings.catch_warnings(action="ignore"):
        result = analyzer.analyze(module, (torch.randn(2, 4), torch.randn(2, 4)))
    assert result.traced.frontend == "real"
    assert result.traced.metadata["module_constants"] == []  # the buffer is no longer its own
    assert result.degree == "inf" and {s.node.name for s in result.sites} == {"mul_1"}
    assert any(s.part != "escaped values" for s in result.sites)  # its own product stays
    assert any(
        "a tensor assigned to Tensor.data at test_escaping.py:" in w for w in result.warnings
    )
