"""validate where the traced graph is not the model or autograd cannot follow it: values
read into numpy or Python and frozen, a number read by ``.item()`` that sets a random
draw, bits reinterpreted as integers, dtype views to complex, ``set_``, a mutating
``torch.library`` op, ``while_loop``, and a renormalising lookup with no site."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from analyzer.empirical.fidelity import Reference
from analyzer.empirical.model_lines import read_lines, resolved
from analyzer.empirical.validate import validate


class Fn(nn.Module):
    def __init__(self, function, **buffers: torch.Tensor) -> None:
        super().__init__()
        self.function = function
        for name, value in buffers.items():
            self.register_buffer(name, value)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.function(self, *inputs)


def _xy() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return torch.randn(2, 4, generator=generator), torch.randn(2, 4, generator=generator)


def _check(module: nn.Module, inputs: tuple[torch.Tensor, ...]):
    return validate(module, inputs, samples=4, pairs=8, max_degree=4, device="cpu")


# --- the model's own values, read along lines ----------------------------------------------
def test_a_sawtooth_is_read_at_its_local_degree() -> None:
    """x · (Σx mod 1): the jumps of the sawtooth cross long lines, not the shortest."""
    reference = Reference(lambda r: (r[0] * torch.remainder(r[0].sum(), 1.0),))
    x = torch.randn(4, 2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lines = torch.randn(4, 2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert read_lines(reference, [0], (x,), (lines,), cap=4) == "2"
    assert read_lines(Reference(lambda r: (r[0].exp(),)), [0], (x,), (lines,), cap=4) == "inf"


def test_short_spans_do_not_resolve_high_degrees() -> None:
    epsilon64, epsilon32 = torch.finfo(torch.float64).eps, torch.finfo(torch.float32).eps
    assert resolved(2, 1 / 64, 4, epsilon64) and not resolved(4, 1 / 64, 4, epsilon64)
    assert resolved(2, 1.0, 4, epsilon32) and not resolved(2, 1 / 64, 4, epsilon32)


def test_a_float32_factor_in_a_float64_model_is_read_at_its_precision() -> None:
    """x · from_numpy(x as float32): the rebuilt factor is float32 in the float64 copy, so
    the model's values are rounded at float32's epsilon, not float64's."""
    model = Fn(lambda m, x: x * torch.from_numpy(x.numpy().astype("float32")))
    report = _check(model, (torch.randn(2, 4),))
    assert report.degree_empirical == "2" and "model's own values" in report.degree_method


@pytest.mark.parametrize(
    "function",
    [
        lambda m, x, y: x * torch.from_numpy(np.ascontiguousarray(y.numpy()[:, ::-1])),
        lambda m, x, y: x * max(y.flatten().tolist()),
        lambda m, x, y: x * (float(y.sum()) % 1.0),
    ],
    ids=["numpy", "tolist", "item-mod"],
)
def test_values_frozen_by_the_recording_are_measured_on_the_model(function) -> None:
    report = _check(Fn(function), _xy())
    assert report.degree_empirical == "2"
    assert "model's own values" in report.degree_method


def test_a_graph_that_misses_a_write_is_measured_on_the_model() -> None:
    """The buffer's ``.data`` is assigned from the input: the recording keeps a constant."""

    def forward(m, x, y):
        m.w.data = x.detach().clone()
        return y * m.w

    report = _check(Fn(forward, w=torch.zeros(2, 4)), _xy())
    assert report.degree_empirical == "2" and not report.agree


@pytest.mark.parametrize(
    ("function", "degree"),
    [
        (lambda m, x, y: F.dropout(x, p=float(torch.sigmoid(y.mean())), training=True), "inf"),
        (lambda m, x, y: torch.empty(4).uniform_(0.0, float(x.abs().max()) + 1.0), "1"),
    ],
    ids=["dropout-p", "uniform-bound"],
)
def test_a_random_draw_set_by_an_escaped_number_is_measured_seeded(function, degree) -> None:
    report = _check(Fn(function), _xy())
    assert report.degree_empirical == degree
    assert "draws random numbers" in report.degree_method


# --- what autograd cannot follow ----------------------------------------------------------
def _bit_abs(x: torch.Tensor) -> torch.Tensor:
    bits = torch.int32 if x.dtype == torch.float32 else torch.int64
    return (x.view(bits) & torch.iinfo(bits).max).view(x.dtype)


@pytest.mark.parametrize(
    ("function", "degree"),
    [
        (lambda m, x, y: y * x.view(torch.int32).view(x.dtype), "2"),
        (lambda m, x, y: y * _bit_abs(x), "2"),
        (lambda m, x, y: _bit_abs(x), "1"),
    ],
    ids=["round-trip", "abs-times-input", "abs"],
)
def test_bits_reinterpreted_as_integers_are_read_from_values(function, degree) -> None:
    report = _check(Fn(function), _xy())
    assert report.degree_empirical == degree and not report.agree
    assert "reinterpretation" in report.degree_method


def test_a_dtype_view_to_complex_keeps_its_tangent() -> None:
    def forward(m, x):
        z = x.view(torch.complex64 if x.dtype == torch.float32 else torch.complex128)
        return torch.view_as_real(z * z)

    report = _check(Fn(forward), (torch.randn(2, 4),))
    assert report.degree_empirical == "2" and report.agree


# --- graphs validate could not run --------------------------------------------------------
def test_set_makes_a_buffer_an_alias_of_the_input() -> None:
    def forward(m, x, y):
        with torch.no_grad():
            m.w.set_(x.detach().clone())
        return y @ m.w.T

    report = _check(Fn(forward, w=torch.zeros(2, 4)), _xy())
    assert report.degree_empirical == "2" and report.agree


@torch.library.custom_op("analyzer_validate_tests::square_into", mutates_args=("out",))
def square_into(x: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(x * x)


def test_a_mutating_library_op_runs_functionalized() -> None:
    def forward(m, x, y):
        out = torch.zeros_like(x)
        square_into(x, out)
        return y * out

    report = _check(Fn(forward), _xy())
    assert report.degree_empirical == "3"
    assert any("auto_functionalized" in f for f in report.fallbacks)


def test_while_loop_runs_its_bodies() -> None:
    from torch._higher_order_ops.while_loop import while_loop

    def forward(m, x, y):
        return while_loop(lambda i, h: i < 2, lambda i, h: (i + 1, h * y), (torch.tensor(0), x))[1]

    report = validate(Fn(forward), _xy(), samples=2, pairs=4, max_degree=3, device="cpu")
    assert report.degree_empirical == "3" and report.sound


def test_a_renormalising_lookup_is_a_product() -> None:
    """embedding(ids, 3x, max_norm=1): each long row is divided by its norm."""
    model = Fn(lambda m, x: F.embedding(m.ids, 3 * x, max_norm=1.0), ids=torch.tensor([0, 2]))
    report = _check(model, (torch.randn(3, 4),))
    published = [s for s in report.analysis.sites if s.node.name == "embedding_renorm"]
    missing = [m for m in report.missing_sites if m["node"] == "embedding_renorm"]
    assert published or missing
    assert not (report.agree and not published)
