"""A float's bits read as another type (``view(dtype)``) are the worst case: continuous,
degree ``inf``, piecewise; so is what a mask, shift or integer cast does to those bits. A
rounding cast (``x.long()``) stays discrete, and a view between a float type and the
complex type of its width keeps its algebra."""

from __future__ import annotations

import warnings

import pytest
import torch

import analyzer


def _analyze(forward, *inputs: torch.Tensor) -> dict:
    module = torch.nn.Module()
    module.forward = forward  # type: ignore[method-assign]
    with warnings.catch_warnings(action="ignore"):
        return analyzer.analyze(module, inputs).to_json()


def _bit_abs(x: torch.Tensor) -> torch.Tensor:
    return (x.view(torch.int32) & 0x7FFFFFFF).view(torch.float32)


def test_clearing_the_sign_bit_is_abs() -> None:
    """The oracle for the next tests: the bit trick computes |x|, a continuous function."""
    x = torch.randn(64)
    assert torch.equal(_bit_abs(x), x.abs())


@pytest.mark.parametrize(
    "forward",
    [
        lambda x, y: y * x.view(torch.int32).view(torch.float32),
        lambda x, y: y * x.view(torch.uint8).view(torch.float32),
        lambda x, y: y * _bit_abs(x),
        lambda x, y: (
            y * (x.view(torch.int32).to(torch.int64) >> 1).to(torch.int32).view(torch.float32)
        ),
        lambda x, y: (
            y * torch.div(x.view(torch.int32), 2, rounding_mode="floor").view(torch.float32)
        ),
    ],
    ids=[
        "int_round_trip",
        "byte_round_trip",
        "sign_bit_cleared",
        "shifted_after_a_cast",
        "floor_divided",
    ],
)
def test_a_product_with_reinterpreted_bits_is_worst_case_and_a_site(forward) -> None:
    x, y = torch.randn(2, 4), torch.randn(2, 4)
    doc = _analyze(forward, x, y)
    assert doc["output_dependence"] == "continuous"
    assert doc["degree"] == "inf" and doc["piecewise"] and not doc["piecewise_affine"]
    assert [(s["kind"], s["op"]) for s in doc["input_products"]] == [("gating", "aten.mul")]


def test_bits_alone_are_continuous_not_a_rounding() -> None:
    doc = _analyze(lambda x: _bit_abs(x), torch.randn(2, 4))
    assert doc["output_dependence"] == "continuous"
    assert doc["degree"] == "inf" and doc["piecewise"]
    assert doc["circuit_class"] == ["nonlinearity"]  # the mask changes bits, selects nothing


def test_a_rounding_cast_and_a_comparison_of_bits_stay_discrete() -> None:
    """x.long() rounds; x.view(int) > 0 is a step: both piecewise constant."""
    assert _analyze(lambda x: x.long(), torch.randn(3))["output_dependence"] == "discrete"
    doc = _analyze(lambda x: x.view(torch.int32) > 0, torch.randn(3))
    assert doc["output_dependence"] == "discrete"


def test_a_complex_view_of_floats_keeps_the_algebra() -> None:
    """z = x.view(complex64); z · z has degree 2 (2ab in the imaginary part), not inf."""
    doc = _analyze(
        lambda x: torch.view_as_real(x.view(torch.complex64) * x.view(torch.complex64)),
        torch.randn(2, 4),
    )
    assert doc["degree"] == "2" and not doc["piecewise"]
