"""The op families whose degree and sites no other pass test reached (found by mutation
testing, bench/bench_mutation.py): lerp, scatter reductions, grid sampling, top-k and glu.
Each expected degree is the total degree of the op written out by hand in sympy (one
output entry, its inputs as symbols); each expected site list is read off the same
formula (a product of two input-dependent values)."""

from __future__ import annotations

import sympy
import torch
import torch.nn.functional as F
from torch import nn

from analyzer.analysis import analyze


class Function(nn.Module):
    def __init__(self, function, **buffers: torch.Tensor) -> None:
        super().__init__()
        self.function = function
        for name, value in buffers.items():
            self.register_buffer(name, value)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.function(self, *inputs)


def run(function, *shapes: tuple[int, ...], **buffers: torch.Tensor):
    return analyze(Function(function, **buffers), tuple(torch.randn(s) for s in shapes))


def degree(expression: sympy.Expr) -> str:
    return str(sympy.Poly(sympy.expand(expression)).total_degree())


a, b, w, s0, s1, s2, gx, gy = sympy.symbols("a b w s0 s1 s2 gx gy")


def test_lerp_is_a_product_of_the_weight_and_the_difference_of_the_ends() -> None:
    both = run(lambda m, x, y, t: torch.lerp(x, y, t), (3,), (3,), (3,))
    assert both.degree == degree(a + w * (b - a)) == "2"
    assert [(s.kind, [n.name for n in s.operands]) for s in both.sites] == [
        ("gating", ["args_2", "args_0"])
    ]
    squared = run(lambda m, x, y, t: torch.lerp(x * x, y, t), (3,), (3,), (3,))
    assert squared.degree == degree(a**2 + w * (b - a**2)) == "3"
    by_a_number = run(lambda m, x, y: torch.lerp(x, y, 0.25), (3,), (3,))
    assert by_a_number.degree == degree(a + sympy.Rational(1, 4) * (b - a)) == "1"
    assert by_a_number.sites == []
    # ends fixed (buffers), the weight varies: p + w·(q − p) is linear in w, no product
    fixed = run(lambda m, t: torch.lerp(m.p, m.q, t), (3,), p=torch.ones(3), q=torch.zeros(3))
    assert fixed.degree == "1" and fixed.sites == []
    assert not fixed.output_fact.piecewise


def test_a_scatter_product_multiplies_every_entry_landing_on_a_place() -> None:
    """All three entries of src land on place 0: out[0] = base[0]·s0·s1·s2."""
    index = torch.zeros(3, dtype=torch.long)

    def scatter(reduce):
        return lambda m, base, src: base.scatter_reduce(0, m.index, src, reduce)

    product = run(scatter("prod"), (3,), (3,), index=index)
    assert product.degree == degree(a * s0 * s1 * s2) == "4"
    assert [(s.kind, [n.name for n in s.operands]) for s in product.sites] == [
        ("gating", ["args_0", "args_1"])
    ]
    assert not product.output_fact.piecewise
    squared = run(lambda m, base, src: base.scatter_reduce(0, m.index, src * src, "prod"),
                  (3,), (3,), index=index)  # fmt: skip
    assert squared.degree == degree(a * s0**2 * s1**2 * s2**2) == "7"
    fixed_source = run(lambda m, base: base.scatter_reduce(0, m.index, m.src, "prod"), (3,),
                       index=index, src=torch.ones(3))  # fmt: skip
    assert fixed_source.degree == "1" and fixed_source.sites == []
    summed = run(scatter("sum"), (3,), (3,), index=index)
    assert summed.degree == degree(a + s0 + s1 + s2) == "1" and summed.sites == []
    assert not summed.output_fact.piecewise
    largest = run(scatter("amax"), (3,), (3,), index=index)
    assert largest.degree == "1" and largest.sites == [] and largest.output_fact.piecewise
    smallest = run(scatter("amin"), (3,), (3,), index=index)
    assert smallest.degree == "1" and smallest.output_fact.piecewise


def test_grid_sampling_weights_are_polynomial_in_each_grid_coordinate() -> None:
    """Bilinear: Σ (1 − fx)(1 − fy)·I[…] over the four neighbours, fx, fy linear in the
    grid: degree 1 (image) + 1 + 1; bicubic: cubic weights per coordinate, 1 + 3 + 3;
    nearest: a selection only."""

    def sample(mode):
        return lambda m, image, grid: F.grid_sample(image, grid, mode=mode, align_corners=False)

    shapes = ((1, 1, 4, 4), (1, 2, 2, 2))
    bilinear = run(sample("bilinear"), *shapes)
    assert bilinear.degree == degree(a * (1 - gx) * (1 - gy)) == "3"
    assert [s.kind for s in bilinear.sites] == ["gating"] and bilinear.output_fact.piecewise
    bicubic = run(sample("bicubic"), *shapes)
    assert bicubic.degree == degree(a * gx**3 * gy**3) == "7"
    nearest = run(sample("nearest"), *shapes)
    assert nearest.degree == "1" and nearest.sites == [] and nearest.output_fact.piecewise
    # a fixed grid reads fixed places with fixed weights: linear, no kink
    fixed = run(lambda m, image: F.grid_sample(image, m.grid, align_corners=False), shapes[0],
                grid=torch.rand(*shapes[1]) - 0.5)  # fmt: skip
    assert fixed.degree == "1" and fixed.sites == [] and not fixed.output_fact.piecewise


def test_top_k_selects_values_and_returns_positions() -> None:
    values = run(lambda m, x: torch.topk(x * x, 2).values, (5,))
    assert values.degree == "2" and values.output_fact.piecewise and values.sites == []
    largest = run(lambda m, x: torch.max(x * x) + 1, (5,))  # one result, not a pair
    assert largest.degree == "2" and largest.output_fact.piecewise
    positions = run(lambda m, x: torch.topk(x, 2).indices, (5,))
    assert str(positions.output_fact.dependence) == "discrete"
    assert positions.degree == "0"


def test_glu_multiplies_two_halves_of_one_tensor() -> None:
    """glu(x) = x[:n]·sigmoid(x[n:]): a product of distinct entries of x, not polynomial."""
    gated = run(lambda m, x: F.glu(x), (2, 4))
    assert gated.degree == "inf"
    assert [(s.kind, [n.name for n in s.operands]) for s in gated.sites] == [("gating", ["args_0"])]


def test_a_product_of_entries_has_as_many_factors_as_it_multiplies() -> None:
    """prod over a length-n axis multiplies n entries; cumprod's last entry too; det of an
    n×n matrix is a sum of products of n entries (Leibniz); logdet is no polynomial."""
    x0, x1, x2, x3 = sympy.symbols("x0:4")
    whole = run(lambda m, x: torch.prod(x), (3,))
    assert whole.degree == degree(x0 * x1 * x2) == "3"
    assert [(s.kind, [n.name for n in s.operands]) for s in whole.sites] == [("gating", ["args_0"])]
    assert whole.sites[0].node.target is torch.ops.aten.prod.default
    rows = run(lambda m, x: torch.prod(x, dim=1), (2, 4))
    assert rows.degree == degree(x0 * x1 * x2 * x3) == "4"
    of_squares = run(lambda m, x: torch.prod(x * x, dim=0), (3, 2))
    assert of_squares.degree == degree((x0 * x1 * x2) ** 2) == "6"
    running = run(lambda m, x: torch.cumprod(x, 0), (3,))
    assert running.degree == "3" and not running.output_fact.piecewise
    matrix = sympy.Matrix(3, 3, sympy.symbols("m0:9"))
    determinant = run(lambda m, x: torch.linalg.det(x), (3, 3))
    assert determinant.degree == degree(matrix.det()) == "3"
    batched = run(lambda m, x: torch.linalg.det(x), (2, 5, 3, 3))  # n is the last axis
    assert batched.degree == "3"
    kinked = run(lambda m, x: torch.prod(torch.relu(x)), (3,))
    assert kinked.degree == "3" and kinked.output_fact.piecewise
    assert run(lambda m, x: torch.logdet(x @ x.T + torch.eye(3)), (3, 3)).degree == "inf"
    # a fixed table's product is static; a product over a static value adds no site
    fixed = run(lambda m, x: x * torch.prod(m.table), (3,), table=torch.ones(3))
    assert fixed.degree == "1" and fixed.sites == []


def test_a_norm_is_piecewise_linear_only_for_orders_one_and_infinity() -> None:
    """‖x‖₁ = Σ|xᵢ| and ‖x‖∞ = max|xᵢ| are piecewise linear; ‖x‖₂ = sqrt(Σ xᵢ²) and
    the order −1 (Σ 1/|xᵢ|)⁻¹ are not; a matrix's order −1 is its smallest column sum."""
    inf = float("inf")
    for order, expected in ((1, "1"), (inf, "1"), (-inf, "1"), (2, "inf"), (-1, "inf")):
        norm = run(lambda m, x, order=order: torch.linalg.vector_norm(x, order), (4,))
        assert norm.degree == expected, order
        assert norm.output_fact.piecewise or expected != "1", order
    assert run(lambda m, x: torch.linalg.vector_norm(x), (4,)).degree == "inf"
    smallest = run(lambda m, x: torch.linalg.matrix_norm(x, -1), (3, 3))
    assert smallest.degree == "1" and smallest.output_fact.piecewise
    assert run(lambda m, x: torch.linalg.matrix_norm(x, -2), (3, 3)).degree == "inf"
    # |a + ib| = sqrt(a² + b²): the 1-norm of a complex vector is no piecewise-linear map
    complex_norm = run(lambda m, x: torch.linalg.vector_norm(torch.view_as_complex(x), 1), (3, 2))
    assert complex_norm.degree == "inf"


def test_index_reduce_multiplies_its_source_into_the_places() -> None:
    """index_reduce names its values ``source`` (scatter_reduce: ``src``)."""
    index = torch.zeros(3, dtype=torch.long)
    product = run(lambda m, base, values: base.index_reduce(0, m.index, values, "prod"),
                  (2,), (3,), index=index)  # fmt: skip
    assert product.degree == degree(a * s0 * s1 * s2) == "4"
    assert [(s.kind, s.node.name, [n.name for n in s.operands]) for s in product.sites] == [
        ("gating", product.sites[0].node.name, ["args_0", "args_1"])
    ]
    assert "index_reduce" in str(product.sites[0].node.target)


def test_sites_name_their_op_and_operands() -> None:
    index = torch.zeros(3, dtype=torch.long)
    scatter = run(lambda m, base, src: base.scatter_reduce(0, m.index, src, "prod"),
                  (3,), (3,), index=index)  # fmt: skip
    assert "scatter_reduce" in str(scatter.sites[0].node.target)
    grid = run(lambda m, image, g: F.grid_sample(image, g, align_corners=False),
               (1, 1, 4, 4), (1, 2, 2, 2))  # fmt: skip
    assert [n.name for n in grid.sites[0].operands] == ["args_0", "args_1"]
    assert "grid_sampler" in str(grid.sites[0].node.target)


def test_a_variance_of_a_kinked_value_is_piecewise() -> None:
    """var(relu(x)): quadratic in relu(x), so piecewise quadratic in x."""
    kinked = run(lambda m, x: torch.var(torch.relu(x)), (4,))
    assert kinked.degree == "2" and kinked.output_fact.piecewise
    smooth = run(lambda m, x: torch.var(x), (4,))
    assert smooth.degree == "2" and not smooth.output_fact.piecewise
