"""Sites must not depend on fusion: a graph and its decomposed form get the same answer.

The fused graph (torch.export's training IR, fused ops whole) and the same program after
``ExportedProgram.run_decompositions()`` (core aten: attention as bmm/softmax, norms written
out) are analysed; the fused answer must equal the decomposed one or over-approximate it:
dependence, degree and the piecewise flag at least as high, and every kind of site the
decomposed graph holds present in the fused one. Counts per kind are not compared: a fused
recurrence holds one gating site for all its steps (the decomposed graph one per step), and a
fused attention's softmax is part of its ``mix`` contraction.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from analyzer.analysis import Analysis, analyze_traced
from analyzer.frontend.dialect import op_name
from analyzer.frontend.tracing import trace
from analyzer.frontend.zoo import ZOO, build_zoo_model
from analyzer.passes.registry_lookup import entry_for


def answers(module: Any, args: tuple, kwargs: dict | None = None) -> tuple[Analysis, Analysis]:
    """The analysis of the fused graph and of its decomposed form."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = trace(module, args, frontend="export", example_kwargs=kwargs or None)
        decomposed = trace(module, args, frontend="export", example_kwargs=kwargs or None,
                           decompose=True)  # fmt: skip
    return analyze_traced(fused), analyze_traced(decomposed)


# Ops whose decomposition guards a numerical corner with a selection the op's function does
# not have: the decomposed graph is piecewise where the fused op is smooth.
DECOMPOSITION_GUARDS = {
    "aten.scaled_dot_product_attention": "the math path's _safe_softmax selects zeros for "
    "fully masked rows (where on isinf): a guard, not a kink of attention",
    "aten.lerp": "written as where(|w| < 0.5, a + w·(b − a), b − (1 − w)·(b − a)): two equal "
    "branches chosen for accuracy",
}


def fewer_than_decomposed(fused: Analysis, decomposed: Analysis) -> list[str]:
    """What the fused answer claims that its decomposed form contradicts (empty: sound).

    A contraction written out as a broadcast product and a sum is a gating site in the
    decomposed graph; a fused op that implies a normalisation (attention's softmax) covers
    the normalization site its decomposition shows."""
    problems = []
    mine, theirs = fused.output_fact, decomposed.output_fact
    if mine.dependence < theirs.dependence:
        problems.append(f"dependence {mine.dependence} < {theirs.dependence}")
    if mine.degree < theirs.degree:
        problems.append(f"degree {fused.degree} < {decomposed.degree}")
    guarded = {op_name(n) for n in fused.traced.op_nodes()} & set(DECOMPOSITION_GUARDS)
    if theirs.piecewise and not mine.piecewise and not guarded:
        problems.append("smooth, but the decomposed graph is piecewise")
    covered = {s.kind for s in fused.sites}
    if "contraction" in covered:
        covered.add("gating")
    for site in fused.sites:
        entry = entry_for(site.node)
        if entry is not None and "normalization" in entry.implies:
            covered.add("normalization")
    missing = {s.kind for s in decomposed.sites} - covered
    if missing:
        problems.append(f"no {', '.join(sorted(missing))} site; the decomposed graph has one")
    return problems


class Fn(torch.nn.Module):
    def __init__(self, function: Any) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args: Any) -> Any:
        return self.function(*args)


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


FUSED = {
    "adaptive_layer_norm": (lambda x, c: F.layer_norm(x, (5,), 1 + torch.tanh(c), c), _x(4, 5),
                            _x(5)),
    "group_norm_affine": (lambda x, w: F.group_norm(x, 2, w, None), _x(2, 4, 3), _x(4)),
    "rms_norm_weight": (lambda x, w: F.rms_norm(x, (5,), w), _x(3, 5), _x(5)),
    "softmax_backward": (lambda y: torch.ops.aten._softmax_backward_data(
        torch.linspace(-1, 1, 5).expand(3, 5), y, -1, torch.float32), _x(3, 5).softmax(-1)),
    "attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), _x(1, 2, 3, 4),
                  _x(1, 2, 3, 4), _x(1, 2, 3, 4)),
    "batch_norm_eval_stats": (lambda x, v: F.batch_norm(x, torch.zeros(3), v.abs() + 1),
                              _x(2, 3), _x(3)),
    "softplus": (lambda x: F.softplus(x), _x(4)),
    "hardswish": (lambda x: F.hardswish(x), _x(4)),
    "huber": (lambda x, y: F.huber_loss(x, y), _x(4), _x(4)),
    "bce_weight": (lambda x, w: F.binary_cross_entropy(torch.sigmoid(x), torch.rand(4), w),
                   _x(4), _x(4)),
    "difference_squared": (lambda a, b: (a - b) * (a - b), _x(3), _x(3)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FUSED))
def test_fused_ops_answer_like_their_decomposition(name: str) -> None:
    function, *args = FUSED[name]
    assert fewer_than_decomposed(*answers(Fn(function), tuple(args))) == []


FAST_ZOO = ("mlp", "transformer_block")


@pytest.mark.parametrize("name", FAST_ZOO)
def test_zoo_models_answer_like_their_decomposition(name: str) -> None:
    module, args = build_zoo_model(name)
    assert fewer_than_decomposed(*answers(module, args)) == []


def test_the_comparison_sees_a_missing_site() -> None:
    # the decomposed form of x·y has a gating site; an answer without one is caught
    product = answers(Fn(lambda x, y: x * y), (_x(3), _x(3)))[1]
    affine = answers(Fn(lambda x, y: x + y), (_x(3), _x(3)))[1]
    assert fewer_than_decomposed(affine, product) == [
        "degree 1 < 2", "no gating site; the decomposed graph has one"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_answers_like_its_decomposition(name: str) -> None:
    module, args = build_zoo_model(name)
    assert fewer_than_decomposed(*answers(module, args)) == []


def _adversarial() -> dict[str, Any]:
    from tests.adversarial.catalogue import all_cases

    return all_cases()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_adversarial()))
def test_every_adversarial_case_answers_like_its_decomposition(name: str) -> None:
    module, args, kwargs = _adversarial()[name].build()
    try:
        fused, decomposed = answers(module, args, kwargs)
    except Exception as error:  # export refuses it (frozen control flow): nothing to compare
        pytest.skip(f"export: {type(error).__name__}")
    assert fewer_than_decomposed(fused, decomposed) == []


@pytest.mark.slow
def test_opinfo_samples_answer_like_their_decomposition() -> None:
    from tests.passes.opinfo_oracle import _Wrapped, cases_of, float64_opinfos

    problems = []
    for opinfo in float64_opinfos():
        for case in cases_of(opinfo, 2):
            try:
                fused, decomposed = answers(_Wrapped(case.function), tuple(case.tensors))
            except Exception:  # not exportable or not decomposable: nothing to compare
                continue
            problems += [f"{case.label}: {p}" for p in fewer_than_decomposed(fused, decomposed)]
    assert problems == []
