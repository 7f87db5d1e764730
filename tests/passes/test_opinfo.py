"""The registry's rules checked against PyTorch's OpInfo samples and a numeric oracle.

The fast subset (a spread of rule families, two samples each) runs in the default
suite; the full sweep over every OpInfo that runs in float64 on the CPU is slow (and
is what ``bench/bench_opinfo.py`` prints).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from tests.passes.opinfo_oracle import (
    EXCEPTIONS,
    UNCOVERED,
    Case,
    check_case,
    degree_exceeded,
    has_kink,
    sweep,
)

FAST = (
    "mul div pow atan2 abs exp floor where matmul linalg.det cov "
    "nn.functional.huber_loss nn.functional.prelu nn.functional.binary_cross_entropy "
    "nn.functional.nll_loss histogram logsumexp special.bessel_j0 amax cumprod fmod"
).split()


@pytest.fixture(scope="module")
def fast_report():
    return sweep(FAST, samples=2)


def test_fast_subset_has_no_violation(fast_report) -> None:
    assert fast_report.violations == []
    assert len(fast_report.verified_ops) >= 12, fast_report.verified_ops


def test_fast_subset_ops_are_known(fast_report) -> None:
    unknown = fast_report.exercised - fast_report.known - set(UNCOVERED)
    assert unknown == set(), sorted(unknown)


def _case(name: str, function, *tensors: torch.Tensor) -> Case:
    return Case(SimpleNamespace(name=name, variant_test_name=""), 0, function, list(tensors))


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def _w(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) + 0.5


# Each was unsound before: published a lower degree, no site, or smooth where it kinks.
ISSUE_CASES = {
    "cov_aweights": (lambda x, w: torch.cov(x, aweights=w), _x(3, 6), _w(6)),
    "nll_loss_weight_mean": (
        lambda x, w: F.nll_loss(x, torch.tensor([0, 2, 1, 2]), weight=w), _x(4, 3), _w(3)),
    "histogram_density": (
        lambda x, w: torch.histogram(x, bins=4, weight=w, density=True).hist, _x(8), _w(8)),
    "pow_both_varying": (lambda x, y: torch.pow(x, y), _w(4, 3), _x(4, 3)),
    "bce_weight": (lambda x, w: F.binary_cross_entropy(torch.sigmoid(x), torch.full_like(x, 0.3),
                                                       weight=w), _x(4, 3), _w(4, 3)),
    "bce_logits_pos_weight": (lambda x, p: F.binary_cross_entropy_with_logits(
        x, torch.full_like(x, 0.3), pos_weight=p), _x(4, 3), _w(3)),
    "batch_norm_eval_weight_var": (lambda w, v: F.batch_norm(
        torch.ones(2, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), v, w),
        _w(3), _w(3)),
    "prelu_slope": (lambda x, a: F.prelu(x, a), _x(2, 3, 4), _w(3)),
    "huber": (lambda x, y: F.huber_loss(x, y, delta=0.5), 0.5 + 0.05 * _x(5, 4), _w(5, 4) * 0.01),
    "smooth_l1": (lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), 0.5 + 0.05 * _x(5, 4),
                  _w(5, 4) * 0.01),
    "float_to_long": (lambda x: (x * 3).long().to(torch.float64), _x(6)),
    "embedding_bag_max": (lambda t: F.embedding_bag(torch.tensor([0, 1, 2, 1, 3]), t,
                                                    torch.tensor([0, 2]), mode="max"),
                          1 + 0.01 * _x(4, 3)),  # rows near a tie: the maximum switches
    "pinv_tolerance": (lambda a: torch.linalg.pinv(a, atol=torch.tensor(0.9, dtype=torch.float64)),
                       torch.diag(torch.tensor([0.9, 2.0, 3.0], dtype=torch.float64))
                       + 0.01 * _x(3, 3)),  # a singular value at the tolerance
    "logspace_tensor_ends": (lambda a: torch.logspace(a[0], a[1], 5, dtype=torch.float64), _x(2)),
    "atan2_branch_cut": (lambda y, x: torch.atan2(y, x), 0.01 * _x(6), -_w(6)),
}  # fmt: skip


# Found by the full sweep: branch switches published smooth, a hash published discrete.
SWEEP_CASES = {
    "eigvalsh_sorted": (lambda x: torch.linalg.eigvalsh(torch.diag_embed(x)),
                        1 + 0.01 * _x(3)),  # near a tie: the sorted order switches
    "svdvals_abs": (lambda x: torch.linalg.svdvals(torch.diag_embed(x)), 0.01 * _x(3)),
    "lu_pivot": (lambda a: torch.linalg.lu_factor(a).LU,
                 torch.tensor([[1.0, 2.0], [-1.0, 3.0]], dtype=torch.float64)
                 + 0.01 * _x(2, 2)),  # |a₀₀| ≈ |a₁₀|: the pivot row switches
    "qr_reflector_sign": (lambda a: torch.linalg.qr(a).R,
                          torch.tensor([[0.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
                          + 0.01 * _x(2, 2)),  # a₀₀ ≈ 0: R₀₀'s sign flips
    "hash_tensor": (lambda x: torch.hash_tensor(x).to(torch.float64), _x(3, 4)),
    "norm_order_minus_one": (lambda x: torch.norm(x, p=-1), _w(5)),  # (Σ 1/|x|)⁻¹
    "norm_cone_at_zero": (lambda x: torch.linalg.vector_norm(x), 0 * _x(3)),  # at the tip
    "renorm_switch": (lambda x: torch.renorm(x, 2, 0, 1.0), 0.7 + 0.001 * _x(2, 2)),  # ‖row‖ ≈ 1
    "hypot": (lambda a, b: torch.hypot(a, b), torch.zeros(3, dtype=torch.float64),
              torch.zeros(3, dtype=torch.float64)),  # the line crosses the cone's tip
    "logit_eps": (lambda x: torch.logit(x, eps=0.3), 0.3 + 0.01 * _x(6)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SWEEP_CASES))
def test_sweep_rules_agree_with_the_oracle(name: str) -> None:
    function, *tensors = SWEEP_CASES[name]
    result = check_case(_case(name, function, *tensors), slow_call=math.inf)
    assert result.skipped is None, result.skipped
    assert result.violations == []
    assert result.numeric, "the oracle did not run"


@pytest.mark.parametrize("name", sorted(ISSUE_CASES))
def test_issue_rules_agree_with_the_oracle(name: str) -> None:
    function, *tensors = ISSUE_CASES[name]
    result = check_case(_case(name, function, *tensors), slow_call=math.inf)
    assert result.skipped is None, result.skipped
    assert result.violations == []
    assert result.numeric, "the oracle did not run"


def test_fused_affine_norm_has_the_sites_of_its_unfused_form() -> None:
    from analyzer import analyze

    def kinds(function, *args) -> set[str]:
        return {site.kind for site in analyze(_Fn(function), args).sites}

    x, c = torch.randn(4, 5), torch.randn(5)
    fused = kinds(lambda x, c: F.layer_norm(x, (5,), 1 + torch.tanh(c), c), x, c)
    assert {"normalization", "gating"} <= fused


def test_a_difference_squared_is_one_value_squared() -> None:
    from analyzer import analyze

    a, b = torch.randn(3, 4), torch.randn(3, 4)
    written = analyze(_Fn(lambda a, b: (a - b) * (a - b)), (a, b))
    named = analyze(_Fn(lambda a, b: (lambda d: d * d)(a - b)), (a, b))
    assert [s.kind for s in written.sites] == [s.kind for s in named.sites] == []
    assert written.degree == named.degree == "2"


def test_softmax_backward_has_the_sites_of_its_algebra() -> None:
    from analyzer import analyze

    grad = torch.linspace(-1, 1, 5).expand(3, 5)
    fused = analyze(_Fn(lambda y: torch.ops.aten._softmax_backward_data(
        grad, y, -1, torch.float32)), (torch.rand(3, 5),))  # fmt: skip
    written = analyze(_Fn(lambda y: y * (grad - (grad * y).sum(-1, keepdim=True))),
                      (torch.rand(3, 5),))  # fmt: skip
    assert {s.kind for s in written.sites} <= {s.kind for s in fused.sites}
    assert {s.kind for s in fused.sites} == {"normalization"}


def test_matrix_exp_is_a_site_like_matrix_power() -> None:
    from analyzer import analyze

    a = torch.randn(3, 3)
    for function in (torch.linalg.matrix_exp, lambda m: torch.linalg.matrix_power(m, 3)):
        analysis = analyze(_Fn(function), (a,))
        assert [s.kind for s in analysis.sites] == ["contraction"]


class _Fn(torch.nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args):
        return self.function(*args)


# --- the oracle itself must see what it is meant to see ------------------------------


def test_degree_oracle_sees_a_higher_degree() -> None:
    assert degree_exceeded(lambda t: (1 + t) ** 3, 2, piecewise=False)
    assert not degree_exceeded(lambda t: (1 + t) ** 3, 3, piecewise=False)
    assert degree_exceeded(math.exp, 3, piecewise=True)


def test_kink_oracle_sees_kinks_jumps_and_second_derivative_jumps() -> None:
    assert has_kink(lambda t: abs(t - 0.123))
    assert has_kink(lambda t: math.floor(3 * t))
    assert has_kink(lambda t: (t - 0.2) ** 2 if abs(t - 0.2) < 0.5 else abs(t - 0.2) - 0.25)
    assert not has_kink(math.sin)
    assert not has_kink(lambda t: math.exp(3 * t))
    assert not has_kink(lambda t: 2 * t + 1)


def test_site_oracle_tells_products_from_sums() -> None:
    cases = {
        "product": (lambda a, b: a * b, True),
        "sum_inside": (lambda a, b: torch.tanh(a + b), False),
        "separate": (lambda a, b: torch.sin(a) + b * b, False),
        "logaddexp": (torch.logaddexp, False),
    }
    from tests.passes.opinfo_oracle import Probe, moves_between

    for name, (function, multiplied) in cases.items():
        case = _case(name, function, _x(3, 4), _x(3, 4))
        probe = Probe(case, torch.Generator().manual_seed(0))
        assert moves_between(probe, 0, 1) is multiplied, name


def test_exceptions_and_uncovered_ops_give_reasons() -> None:
    assert all(reason.strip() for reason in EXCEPTIONS.values())
    assert all(reason.strip() for reason in UNCOVERED.values())


@pytest.mark.slow
def test_full_opinfo_sweep() -> None:
    report = sweep(None, samples=6)
    assert report.violations == []
    assert report.coverage >= 0.98, sorted(report.exercised - report.known)
