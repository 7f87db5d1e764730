"""Convolutions, pooling, batch norm and scans in ``expand``, against torch itself: the
exact output, evaluated at random rational inputs, equals the op run in float64 (to
1e-9), and the exact degree of polynomial models equals the static pass's."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.analysis import analyze
from analyzer.errors import SpecError
from analyzer.frontend.zoo import build_zoo_model
from analyzer.symbolic.expand import Expansion, degree_agrees, expand
from tests.seeds import generator, seeds


class Fn(torch.nn.Module):
    """``function(x, *weights)`` with the weights as parameters (traced as such)."""

    def __init__(self, function: Callable, *weights: torch.Tensor) -> None:
        super().__init__()
        self.function = function
        self.weights = torch.nn.ParameterList(weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x, *self.weights)


def check_against_torch(
    module: torch.nn.Module, shape: tuple[int, ...], seed: int = 0
) -> Expansion:
    """Expand ``module`` on inputs of ``shape``, then compare every output entry at two
    random rational points with the module run in float64."""
    result = expand(module, (torch.randn(*shape, generator=generator(seed)),))
    reference = copy.deepcopy(module).double().eval()
    rng = random.Random(seed)
    for _ in range(2):
        values = [sympy.Rational(rng.randint(-24, 24), rng.randint(1, 8)) for _ in result.symbols]
        point = dict(zip(result.symbols, values, strict=True))
        x = torch.tensor([float(v) for v in values], dtype=torch.float64).reshape(shape)
        with torch.no_grad():
            expected = reference(x)
        expected = expected[0] if isinstance(expected, tuple) else expected
        expected = expected.reshape(-1).tolist()
        assert len(expected) == len(result.outputs)
        for index, want in enumerate(expected):
            got = float(at_point(result.expression(index), point).evalf(30))
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (index, got, want)
    return result


def at_point(expression: sympy.Expr, point: dict[sympy.Symbol, sympy.Rational]) -> sympy.Expr:
    """``expression.xreplace(point)``, each distinct subexpression rebuilt once: a convnet's
    entries share their windows many times over, and ``xreplace`` walks every copy (the zoo
    convnet took minutes).

    >>> x, y = sympy.symbols("x y")
    >>> at_point(sympy.Max(x * y, x) + x * y, {x: sympy.Rational(1, 2), y: 3})
    3
    """
    done: dict[sympy.Basic, sympy.Basic] = dict(point)

    def rebuilt(node: sympy.Basic) -> sympy.Basic:
        if node not in done:
            done[node] = node.func(*map(rebuilt, node.args)) if node.args else node
        return done[node]

    return rebuilt(expression)


def _weight(drawn: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=drawn)


@settings(max_examples=12, deadline=None)
@given(
    spatial=st.sampled_from([1, 2]),
    groups=st.sampled_from([1, 2]),
    per_group_in=st.integers(1, 2),
    per_group_out=st.integers(1, 2),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    transposed=st.booleans(),
    bias=st.booleans(),
    seed=seeds,
)
def test_convolutions_match_torch_for_random_hyper_parameters(
    spatial: int, groups: int, per_group_in: int, per_group_out: int, kernel: int,
    stride: int, padding: int, dilation: int, transposed: bool, bias: bool, seed: int,
) -> None:  # fmt: skip
    drawn = generator(seed)
    c_in, c_out = groups * per_group_in, groups * per_group_out
    length = 4 if spatial == 1 else 3
    reach = dilation * (kernel - 1)
    padding = min(padding, reach) if transposed else padding  # torch's own constraint
    if not transposed and length + 2 * padding < reach + 1:
        padding = reach
    k = (kernel,) * spatial
    if transposed:
        weight = _weight(drawn, c_in, per_group_out, *k)
        output_padding = stride - 1  # the largest torch allows
        conv = getattr(F, f"conv_transpose{spatial}d")
        module = Fn(lambda x, w, *b: conv(x, w, b[0] if b else None, stride, padding,
                                            output_padding, groups, dilation),
                    weight, *([_weight(drawn, c_out)] if bias else []))  # fmt: skip
    else:
        weight = _weight(drawn, c_out, per_group_in, *k)
        conv = getattr(F, f"conv{spatial}d")
        module = Fn(lambda x, w, *b: conv(x, w, b[0] if b else None, stride, padding,
                                            dilation, groups),
                    weight, *([_weight(drawn, c_out)] if bias else []))  # fmt: skip
    result = check_against_torch(module, (1, c_in) + (length,) * spatial, seed)
    assert result.polynomial and result.degree == 1 and degree_agrees(result)


def test_same_padding_and_an_unbatched_input() -> None:
    module = torch.nn.Conv1d(2, 2, 4, padding="same", dilation=1)
    result = check_against_torch(module, (2, 5))
    assert result.output_shapes == [[2, 5]]


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (torch.nn.MaxPool1d(3, stride=1, padding=1), (1, 2, 4)),
        (torch.nn.MaxPool1d(2, stride=2, dilation=2, ceil_mode=True), (1, 1, 6)),
        (torch.nn.MaxPool2d(2, ceil_mode=True), (1, 1, 3, 3)),
        (torch.nn.AdaptiveMaxPool2d((2, 1)), (1, 1, 3, 3)),
        (torch.nn.AdaptiveMaxPool1d(2), (2, 5)),
    ],
)
def test_max_pooling_is_a_max_over_each_window(layer: torch.nn.Module, shape: tuple) -> None:
    result = check_against_torch(layer, shape)
    assert result.piecewise and not result.polynomial and result.degree == 1
    assert degree_agrees(result)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (torch.nn.AvgPool1d(3, stride=1, padding=1), (1, 2, 4)),
        (torch.nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), (1, 1, 6)),
        (torch.nn.AvgPool2d(2, ceil_mode=True), (1, 1, 3, 3)),
        (torch.nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 1, 4, 4)),
        (torch.nn.AvgPool2d(2, divisor_override=3), (1, 1, 2, 4)),
        (torch.nn.AdaptiveAvgPool2d((2, 3)), (1, 1, 3, 5)),
        (torch.nn.AdaptiveAvgPool1d(3), (1, 5)),
    ],
)
def test_average_pooling_is_a_rational_mean(layer: torch.nn.Module, shape: tuple) -> None:
    result = check_against_torch(layer, shape)
    assert result.polynomial and result.degree == 1 and degree_agrees(result)


def test_a_one_entry_max_window_stays_a_polynomial() -> None:
    result = check_against_torch(torch.nn.MaxPool1d(1), (1, 1, 3))
    assert result.polynomial and result.non_polynomial == []


def test_eval_batch_norm_is_affine_with_the_running_statistics() -> None:
    torch.manual_seed(1)
    norm = torch.nn.BatchNorm2d(2)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    result = check_against_torch(norm.eval(), (1, 2, 2, 2))
    assert result.polynomial and result.degree == 1 and degree_agrees(result)


def test_training_batch_norm_is_refused_naming_eval_mode() -> None:
    with pytest.raises(SpecError, match=r"batch statistics.*eval mode"):
        expand(torch.nn.BatchNorm1d(2).train(), (torch.randn(3, 2),))


class Scans(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.cumsum(-1), x.cumprod(-1)], -1)


def test_cumsum_and_cumprod_are_polynomials_of_the_static_degree() -> None:
    result = check_against_torch(Scans(), (2, 3))
    assert result.polynomial and result.degree == 3
    assert degree_agrees(result) and analyze(Scans(), (torch.randn(2, 3),)).degree == "3"


class MaxAlong(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.max(-1).values + x.cummax(1).values.sum(-1) + x.min()


def test_max_along_an_axis_and_cummax_are_maxima() -> None:
    result = check_against_torch(MaxAlong(), (2, 3))
    assert result.piecewise and result.degree == 1


class UsesArgmax(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool1d(x, 2, return_indices=True)[1].float() * x[..., :1]


def test_reading_the_positions_of_maxima_is_refused() -> None:
    with pytest.raises(SpecError, match=r"positions of maxima.*selection"):
        expand(UsesArgmax(), (torch.randn(1, 1, 4),))


def test_zoo_convnet_expands_piecewise_with_degree_one() -> None:
    module, _ = build_zoo_model("convnet")
    result = check_against_torch(module, (1, 3, 4, 4))
    assert result.piecewise and result.degree == 1 and result.cross_terms == []
    assert result.non_polynomial == ["relu (aten.relu)"]  # the first op that left polynomials
    assert degree_agrees(result)


def test_top_k_routing_is_refused_as_a_selection() -> None:
    module, _ = build_zoo_model("moe_topk")
    with pytest.raises(
        SpecError, match=r"aten.topk \(node topk\).*selects entries.*not a polynomial"
    ):
        expand(module, (torch.randn(1, 1, 16),))
