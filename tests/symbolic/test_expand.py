"""``expand`` against two oracles: sympy's own expansion of random polynomial models
(exactly the same polynomial), and the static pass's degree, which the exact degree must
equal on every polynomial zoo model and random polynomial model."""

from __future__ import annotations

import time

import pytest
import sympy
import torch
from hypothesis import given, settings

from analyzer.analysis import analyze
from analyzer.errors import SpecError
from analyzer.frontend.zoo import build_zoo_model
from analyzer.passes.facts import format_degree
from analyzer.progress import RecordingProgress
from analyzer.symbolic.expand import degree_agrees, expand
from tests.property.test_degree_sympy import SYMBOLS, N, TreeModel, sympy_value, trees
from tests.seeds import randn, seeds

SMALL = (1, 1, 16)  # one position of the zoo's width: the smallest instance


@pytest.mark.parametrize(
    ("name", "shape", "exact"),
    [("bilinear", None, "2"), ("linear_attention", SMALL, "3"), ("hypernetwork", SMALL, "2")],
)
def test_exact_degree_equals_static_degree_on_polynomial_zoo_models(
    name: str, shape: tuple | None, exact: str
) -> None:
    module, args = build_zoo_model(name)
    if shape is not None:
        args = (torch.randn(*shape),)
    result = expand(module, args, model=name)
    assert result.polynomial and not result.piecewise
    assert format_degree(result.degree) == exact == analyze(module, args).degree
    assert degree_agrees(result)


def test_piecewise_mlp_has_degree_one_pieces_and_no_cross_terms() -> None:
    module, _ = build_zoo_model("mlp")
    result = expand(module, (torch.randn(*SMALL),))
    assert not result.polynomial and result.piecewise
    assert result.degree == 1 and result.static_degree == "1"
    assert result.cross_terms == []
    assert result.non_polynomial == ["relu (aten.relu)"]


def test_a_smooth_gate_is_not_a_polynomial_and_names_its_op() -> None:
    module, _ = build_zoo_model("swiglu_mlp")
    result = expand(module, (torch.randn(*SMALL),))
    assert not result.polynomial and format_degree(result.degree) == "inf"
    assert result.non_polynomial == ["silu (aten.silu)"] and degree_agrees(result)


def test_bilinear_cross_terms_are_every_pair_of_one_positions_features() -> None:
    module, args = build_zoo_model("bilinear")  # (2, 6, 16): 12 positions
    result = expand(module, args)
    assert len(result.cross_terms) == 12 * (16 * 15 // 2)
    first = sympy.Poly(result.expression(0), *result.symbols)  # sympy's own monomials
    crossing = {m for m in first.monoms() if sum(1 for e in m if e) >= 2}
    assert len(crossing) == 16 * 15 // 2
    assert {result.symbols.index(s) for m in result.cross_terms[:120] for s in m.free_symbols} <= (
        set(range(16))
    )


def _row_symbols(result) -> dict[sympy.Symbol, sympy.Symbol]:
    """The oracle's x0..x2 are row 0 of the batch: our x0_0..x0_2."""
    return dict(zip(SYMBOLS, result.symbols[:N], strict=True))


def _has_relu(tree: tuple) -> bool:
    return tree[0] == "relu" or any(isinstance(c, tuple) and _has_relu(c) for c in tree[1:])


@settings(max_examples=30, deadline=None)
@given(trees(), seeds)
def test_expansion_is_sympys_polynomial_and_its_degree_the_static_one(
    tree: tuple, seed: int
) -> None:
    inputs = (randn(seed, 2, N, dtype=torch.float64),)
    result = expand(TreeModel(tree), inputs)
    # a fresh module: the tree model finds its weights by node identity, once per trace
    assert format_degree(result.degree) == analyze(TreeModel(tree), inputs).degree
    if _has_relu(tree):
        assert result.piecewise or result.polynomial  # relu(x) ** 0 is the polynomial 1
        return
    expected = [sympy.expand(e.xreplace(_row_symbols(result))) for e in sympy_value(tree)]
    ours = [sympy.expand(result.expression(i)) for i in range(N)]  # row 0 of the output
    assert ours == expected, tree


class _TinyLinearAttention(torch.nn.Module):
    """``q·(kᵀ·v)`` at width 3: a cubic small enough to read back quickly."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v = (torch.nn.Linear(3, 3) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.q(x) @ (self.k(x).transpose(-2, -1) @ self.v(x))


def test_json_round_trips_through_sympify() -> None:
    result = expand(_TinyLinearAttention(), (torch.randn(1, 2, 3),))
    document = result.to_json()
    assert document["schema"] == "analyzer.expand/1"
    assert document["degree"] == "3" and document["polynomial"] is True
    assert document["symbols"] == [f"x0_{j}" for j in range(6)]
    for index, text in enumerate(document["outputs"]):
        assert sympy.expand(sympy.sympify(text) - result.expression(index)) == 0
    assert [sympy.sympify(t) for t in document["cross_terms"]] == result.cross_terms


def test_too_many_inputs_are_refused_naming_the_sizes_and_the_limit() -> None:
    module, args = build_zoo_model("bilinear")
    with pytest.raises(SpecError, match=r"192 entries \(x \[2, 6, 16\]\).*limit of 100"):
        expand(module, args, max_inputs=100)


def test_too_large_an_expansion_is_refused_before_it_is_computed() -> None:
    module, args = build_zoo_model("linear_attention")  # (2, 6, 16): cubic in 96 entries
    with pytest.raises(SpecError, match=r"past the limit of 100,000 \(--max-terms\)"):
        expand(module, args, max_terms=100_000)


def test_a_softmax_of_large_scores_is_refused_before_sympy_builds_it() -> None:
    """The transformer block's attention scores hold 67,968 polynomial terms: exp of them
    in sympy took minutes before the size check after the op refused; the softmax's
    charge refuses before any is built (the default limit, the user's)."""
    module, args = build_zoo_model("transformer_block")
    started = time.perf_counter()
    with pytest.raises(SpecError) as refused:
        expand(module, args, max_terms=2_000_000)
    seconds = time.perf_counter() - started
    message = str(refused.value)
    assert "scaled_dot_product_attention" in message and "a softmax" in message
    assert "turns 67,968 polynomial terms into sympy expressions" in message
    assert "past the limit of 2,000,000 (--max-terms)" in message
    assert seconds < 30, seconds  # the trace and the refusal; before, minutes


def test_a_smooth_function_of_large_expressions_is_refused_before_it_is_built() -> None:
    class Tanh(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(x @ x.transpose(-1, -2))

    refusal = r"tanh \(aten.tanh, a smooth function\) turns 8 polynomial terms"
    with pytest.raises(SpecError, match=refusal):
        expand(Tanh(), (torch.randn(2, 2),), max_terms=8 * 200 - 1)
    expand(Tanh(), (torch.randn(2, 2),), max_terms=8 * 200)  # at the limit: built


class _Rounds(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(x).real


def test_an_op_without_a_rule_is_named() -> None:
    with pytest.raises(SpecError, match=r"no rule for aten.fft_rfft \(node fft_rfft\)"):
        expand(_Rounds(), (torch.randn(1, 4),))


def test_weights_on_the_meta_device_are_refused() -> None:
    with torch.device("meta"):
        module = torch.nn.Linear(2, 2)
    with pytest.raises(SpecError, match="meta device"):
        expand(module, (torch.randn(1, 2, device="meta"),))


class _FourOutputs(torch.nn.Module):
    """A ReLU, a sigmoid, integer positions (not a value: left out) and the weights alone."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0.1, -2.5]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.relu(x) * 2, torch.sigmoid(x[..., :1]), torch.arange(3), self.w * 3


def test_every_output_and_field_of_the_document_reads_back() -> None:
    """sympy as the oracle: ``2·max(0, x)``, ``1/(1 + e^−x)``, and the weights' outputs the
    exact rationals of the float32 weights times 3; both ops named, the integer output
    skipped."""
    module = _FourOutputs()
    result = expand(module, (torch.randn(1, 2),), model="four")
    x0, x1 = sympy.symbols("x0_0 x0_1")
    weights = [3 * sympy.Rational(v) for v in module.w.tolist()]  # exact: no float32 rounding
    expected = [2 * sympy.Max(0, x0), 2 * sympy.Max(0, x1), 1 / (1 + sympy.exp(-x0)), *weights]
    document = result.to_json()
    assert [sympy.sympify(t) for t in document["outputs"]] == expected
    assert [result.expression(i) for i in range(5)] == expected
    assert document == {
        "schema": "analyzer.expand/1", "model": "four", "symbols": ["x0_0", "x0_1"],
        "outputs": document["outputs"], "degree": "inf", "cross_terms": [],
        "polynomial": False, "piecewise": True,
        "non_polynomial_ops": ["relu (aten.relu)", "sigmoid (aten.sigmoid)"],
        "sources": [{"node": "x", "shape": [1, 2]}], "output_shapes": [[1, 2], [1, 1], [2]],
        "static_degree": "inf", "warnings": [],
    }  # fmt: skip


def test_returned_positions_of_maxima_are_refused_by_name() -> None:
    class Pool(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.nn.functional.max_pool1d(x, 2, return_indices=True)

    refusal = r"^expand: the model returns what max_pool1d_with_indices \(aten\.max_pool1d_w"
    with pytest.raises(SpecError, match=refusal):
        expand(Pool(), (torch.randn(1, 1, 4),))


def test_the_term_limit_admits_an_expansion_of_exactly_its_size() -> None:
    """``x·x`` on three entries holds three one-term squares: a limit of 3 admits it."""

    class Square(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * x

    assert expand(Square(), (torch.randn(1, 3),), max_terms=3).degree == 2
    refusal = (
        r"^expand: mul \(aten\.mul\) holds expressions of 3 terms in all, past the limit of 2 "
        r"\(--max-terms\): expand a smaller instance or raise the limit$"
    )
    with pytest.raises(SpecError, match=refusal):
        expand(Square(), (torch.randn(1, 3),), max_terms=2)


class _PoolValues(torch.nn.Module):
    """Max pooling's values (a Max of each window) with its positions set aside, or used."""

    def __init__(self, use_positions: bool) -> None:
        super().__init__()
        self.use_positions = use_positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, positions = torch.nn.functional.max_pool1d(x, 2, return_indices=True)
        return values * positions if self.use_positions else values


def test_pooled_values_expand_and_their_positions_are_refused_where_read() -> None:
    result = expand(_PoolValues(False), (torch.randn(1, 1, 4),))
    x = sympy.symbols("x0_0:4")
    assert result.outputs == [sympy.Max(x[0], x[1]), sympy.Max(x[2], x[3])]
    assert result.non_polynomial == ["max_pool1d_with_indices (aten.max_pool1d_with_indices)"]
    assert result.piecewise and not result.polynomial
    refusal = (
        r"^expand: mul \(aten\.mul\) reads max_pool1d_with_indices "
        r"\(aten\.max_pool1d_with_indices\) returns the positions of maxima"
    )
    with pytest.raises(SpecError, match=refusal):
        expand(_PoolValues(True), (torch.randn(1, 1, 4),))


def test_a_number_made_by_a_smooth_function_is_a_polynomial_again() -> None:
    """``exp(x − x)·x``: exp(0) is the number 1, so the output is the polynomial ``x``;
    every node advances the progress once."""

    class Exp0(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.exp(x - x) * x

    progress = RecordingProgress()
    result = expand(Exp0(), (torch.randn(1, 2),), progress=progress)
    assert result.polynomial and result.degree == 1 and result.non_polynomial == []
    assert [result.expression(i) for i in range(2)] == list(sympy.symbols("x0_0 x0_1"))
    advances = [e[2] for e in progress.events if e[:2] == ("advance", "expanding on sympy symbols")]
    assert advances == [1, 2, 3, 4, 5]  # x, sub, exp, mul, output


def test_the_exports_metadata_assertion_on_the_input_is_skipped() -> None:
    """A dtype cast makes export assert the input's metadata (``_assert_tensor_metadata``
    reading ``x``): the assertion has no value to expand and is skipped."""

    class Cast(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.to(torch.float64) * 2

    result = expand(Cast(), (torch.randn(1, 2),))
    assert [result.expression(i) for i in range(2)] == [2 * s for s in sympy.symbols("x0_0 x0_1")]
