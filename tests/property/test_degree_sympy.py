"""Degrees of random polynomial models agree with sympy, the oracle.

Each example is a random expression tree over a 3-vector ``x`` built from ``+``,
``*``, ``pow(·, k)`` and fixed matrices with positive integer entries (so no term can
cancel). The tree runs as a torch module, is traced and analysed; sympy expands the
same tree and gives the exact total degree.
"""

from __future__ import annotations

import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from analyzer.analysis import analyze
from tests.seeds import randn, seeds

N = 3
SYMBOLS = sympy.symbols(f"x0:{N}")


def trees() -> st.SearchStrategy:
    leaves = st.just(("x",))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.just("add"), inner, inner),
            st.tuples(st.just("mul"), inner, inner),
            st.tuples(st.just("pow"), inner, st.integers(0, 3)),
            st.tuples(st.just("matmul"), inner, st.lists(st.integers(1, 3), min_size=N * N,
                                                        max_size=N * N)),
            st.tuples(st.just("relu"), inner),
        ),
        max_leaves=6,
    )  # fmt: skip


class TreeModel(nn.Module):
    def __init__(self, tree: tuple) -> None:
        super().__init__()
        self.tree = tree
        self.weights = nn.ParameterList()
        self._index: dict[int, int] = {}
        self._register(tree)

    def _register(self, tree: tuple) -> None:
        if tree[0] == "matmul":
            self._index[id(tree)] = len(self.weights)
            weight = torch.tensor(tree[2], dtype=torch.float64).view(N, N)
            self.weights.append(nn.Parameter(weight, requires_grad=False))
        for child in tree[1:]:
            if isinstance(child, tuple):
                self._register(child)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._evaluate(self.tree, x)

    def _evaluate(self, tree: tuple, x: torch.Tensor) -> torch.Tensor:
        op = tree[0]
        if op == "x":
            return x
        a = self._evaluate(tree[1], x)
        if op == "add":
            return a + self._evaluate(tree[2], x)
        if op == "mul":
            return a * self._evaluate(tree[2], x)
        if op == "pow":
            return torch.pow(a, tree[2])
        if op == "relu":
            return torch.relu(a)
        return a @ self.weights[self._index[id(tree)]].T


def sympy_value(tree: tuple) -> sympy.Matrix:
    op = tree[0]
    if op == "x":
        return sympy.Matrix(SYMBOLS)
    a = sympy_value(tree[1])
    if op == "add":
        return a + sympy_value(tree[2])
    if op == "mul":
        return a.multiply_elementwise(sympy_value(tree[2]))
    if op == "pow":
        return a.applyfunc(lambda e: e ** tree[2])
    if op == "relu":
        return a  # piecewise: same degree on each piece
    return sympy.Matrix(N, N, tree[2]) * a


def sympy_degree(tree: tuple) -> int:
    value = sympy_value(tree)
    return max(sympy.Poly(sympy.expand(e), *SYMBOLS).total_degree() for e in value)


@settings(max_examples=40, deadline=None)
@given(trees(), seeds)
def test_static_degree_equals_sympy_degree(tree: tuple, seed: int) -> None:
    result = analyze(TreeModel(tree), (randn(seed, 2, N, dtype=torch.float64),))
    assert result.degree == str(sympy_degree(tree)), tree


@settings(max_examples=20, deadline=None)
@given(trees(), seeds)
def test_piecewise_affine_iff_degree_at_most_one(tree: tuple, seed: int) -> None:
    document = analyze(TreeModel(tree), (randn(seed, 2, N, dtype=torch.float64),)).to_json()
    assert document["piecewise_affine"] == (sympy_degree(tree) <= 1)
