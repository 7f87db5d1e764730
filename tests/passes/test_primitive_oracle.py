"""Primitive classes against an oracle that never reads the registry.

:func:`oracle_class` derives a class from numeric properties of a function alone
(float64, autograd Jacobians and Hessians, values along random lines):

* ``sparsity``: the output jumps (a selection by a condition or an order, or a
  piecewise-constant value);
* affine maps: ``structural`` when every output entry copies one input entry in the
  input's order, ``transpose`` when they are copied in another order (a permutation
  Jacobian), ``elementwise`` when each output entry reads only its own position,
  ``reduction`` when it mixes positions;
* ``relu``: continuous and piecewise linear (second differences vanish off a few kinks);
* ``normalization``: smooth and invariant to a global scale or shift of its input;
* ``matmul``: bilinear in two arguments, each output entry reading many entries of both;
* ``gating``: each output entry a product of two entries, linear in one of them;
* ``nonlinearity``: any other smooth function.

Each case names the op whose node class must equal the oracle's class; the function is
that op on its own inputs (around it only layout glue the oracle sees through).

>>> oracle_class(torch.tanh, [torch.linspace(-1, 1, 5, dtype=torch.float64)])
'nonlinearity'
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from analyzer import analyze
from analyzer.frontend.dialect import op_name

Function = Callable[..., torch.Tensor]
TOL = 1e-7


def _output(function: Function, inputs: list[torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return function(*inputs).to(torch.float64).reshape(-1)


def _jacobian(function: Function, inputs: list[torch.Tensor]) -> torch.Tensor:
    """∂ output / ∂ (every input entry, inputs concatenated): (outputs, inputs)."""

    def flat(*values: torch.Tensor) -> torch.Tensor:
        return function(*values).to(torch.float64).reshape(-1)

    parts = torch.autograd.functional.jacobian(flat, tuple(inputs), strict=False)
    return torch.cat([p.reshape(p.shape[0], -1) for p in parts], dim=1)


def _lines(inputs: list[torch.Tensor], generator: torch.Generator, count: int = 3):
    for _ in range(count):
        yield [0.3 * torch.randn(t.shape, generator=generator, dtype=t.dtype) for t in inputs]


def _along(function: Function, inputs, direction, ts) -> torch.Tensor:
    return torch.stack(
        [_output(function, [x + t * d for x, d in zip(inputs, direction, strict=True)]) for t in ts]
    )


def _grid(points: int) -> list[float]:
    return torch.linspace(-1, 1, points, dtype=torch.float64).tolist()


def jumps(function: Function, inputs: list[torch.Tensor], generator: torch.Generator) -> bool:
    """Whether the output jumps along a random line: its largest step between neighbours
    does not shrink when the grid is refined (it halves on a continuous function)."""
    for direction in _lines(inputs, generator):
        values = _along(function, inputs, direction, _grid(801))
        coarse = (values[2::2] - values[:-2:2]).abs().max()
        fine = (values[1:] - values[:-1]).abs().max()
        if fine > 1e-9 and fine > 0.8 * coarse:
            return True
    return False


def piecewise_linear(
    function: Function, inputs, generator: torch.Generator, kinks: float = 0.1
) -> bool:
    """Second differences along random lines vanish except at a few kinks (at most this
    share of the grid's points)."""
    for direction in _lines(inputs, generator):
        values = _along(function, inputs, direction, _grid(401))
        second = (values[2:] - 2 * values[1:-1] + values[:-2]).abs().amax(dim=1)
        scale = values.abs().max() + 1
        if int((second > 1e-9 * scale).sum()) > kinks * len(second):
            return False
    return True


def _invariant(function: Function, inputs, moved) -> bool:
    base = _output(function, inputs)
    after = _output(function, moved)
    return bool(base.abs().max() > TOL and torch.allclose(base, after, rtol=1e-3, atol=1e-4))


def normalizing(function: Function, inputs: list[torch.Tensor]) -> bool:
    """Unchanged when one input is scaled by 2.7, or shifted by 1.3, the others kept."""
    for i, x in enumerate(inputs):
        for moved in (2.7 * x, x + 1.3):
            if _invariant(function, inputs, [moved if j == i else y for j, y in enumerate(inputs)]):
                return True
    return False


def _moved(inputs: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
    return [x + torch.randn(x.shape, generator=generator, dtype=x.dtype) for x in inputs]


def bilinear(function: Function, inputs: list[torch.Tensor], generator) -> bool:
    """Two inputs, the Jacobian in each unchanged when that input moves (the other kept)."""
    if len(inputs) != 2:
        return False
    a, b = inputs
    moved_a, moved_b = _moved(inputs, generator)
    here = _jacobian(function, inputs)
    split = a.numel()
    in_a = _jacobian(function, [moved_a, b])[:, :split]
    in_b = _jacobian(function, [a, moved_b])[:, split:]
    return torch.allclose(in_a, here[:, :split], atol=TOL) and torch.allclose(
        in_b, here[:, split:], atol=TOL
    )


def reads(jacobian: torch.Tensor) -> list[int]:
    """How many input entries each output entry depends on."""
    return [int((row.abs() > TOL).sum()) for row in jacobian]


def product_of_two_entries(function: Function, inputs: list[torch.Tensor]) -> bool:
    """Every output entry depends on exactly two input entries p, q, is linear in one of
    them and has a non-zero mixed derivative ∂²/∂p∂q."""
    jacobian = _jacobian(function, inputs)
    flat = torch.cat([x.reshape(-1) for x in inputs])
    sizes = [x.numel() for x in inputs]

    def as_inputs(vector: torch.Tensor) -> list[torch.Tensor]:
        return [p.reshape(x.shape) for p, x in zip(vector.split(sizes), inputs, strict=True)]

    for row in range(jacobian.shape[0]):
        columns = (jacobian[row].abs() > TOL).nonzero().reshape(-1).tolist()
        if len(columns) != 2:
            return False

        def entry(vector: torch.Tensor, row: int = row) -> torch.Tensor:
            return function(*as_inputs(vector)).to(torch.float64).reshape(-1)[row]

        hessian = torch.autograd.functional.hessian(entry, flat)
        p, q = columns
        linear_in_one = abs(float(hessian[p, p])) < TOL or abs(float(hessian[q, q])) < TOL
        if not linear_in_one or abs(float(hessian[p, q])) < TOL:
            return False
    return True


def _affine_class(jacobian: torch.Tensor, inputs: list[torch.Tensor], out_shape) -> str:
    zero_one = bool(((jacobian.abs() < TOL) | ((jacobian - 1).abs() < TOL)).all())
    if zero_one and all(n == 1 for n in reads(jacobian)):
        sources = jacobian.argmax(dim=1)
        ordered = bool((sources[1:] >= sources[:-1]).all())
        return "structural" if ordered else "transpose"
    if _pointwise(jacobian, inputs, out_shape):
        return "elementwise"
    return "reduction"


def _pointwise(jacobian: torch.Tensor, inputs: list[torch.Tensor], out_shape) -> bool:
    """Each output entry reads, of each input, only the entry broadcasting maps to it."""
    allowed = []
    for x in inputs:
        index = torch.arange(x.numel(), dtype=torch.float64).reshape(x.shape)
        try:
            mapped = index.expand(out_shape).reshape(-1).long()
        except RuntimeError:
            return False
        block = torch.zeros(len(mapped), x.numel(), dtype=torch.bool)
        block[torch.arange(len(mapped)), mapped] = True
        allowed.append(block)
    return bool(((jacobian.abs() > TOL) <= torch.cat(allowed, dim=1)).all())


def oracle_class(function: Function, inputs: list[torch.Tensor], seed: int = 0) -> str:
    """The primitive class of ``function`` derived from numeric properties alone."""
    generator = torch.Generator().manual_seed(seed)
    if jumps(function, inputs, generator):
        return "sparsity"
    out_shape = function(*inputs).shape
    points = [inputs] + [_moved(inputs, generator) for _ in range(8)]
    jacobians = [_jacobian(function, point) for point in points]
    same = all(torch.allclose(jacobians[0], j, atol=TOL) for j in jacobians[1:])
    if same and piecewise_linear(function, inputs, generator, kinks=0):
        return _affine_class(jacobians[0], inputs, out_shape)
    if piecewise_linear(function, inputs, generator):
        return "relu"
    if normalizing(function, inputs):
        return "normalization"
    if bilinear(function, inputs, generator) and min(reads(jacobians[0])) > 2:
        return "matmul"
    if product_of_two_entries(function, inputs):
        return "gating"
    return "nonlinearity"


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _topk_with_indices(a: torch.Tensor) -> torch.Tensor:
    values, indices = a.topk(2)
    return values + indices


def aten_sigmoid_backward(gradient: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.sigmoid_backward(gradient, output)


# name: (the op whose node is classed, the function, its inputs)
CASES: dict[str, tuple[str, Function, list[torch.Tensor]]] = {
    "mm": ("aten.mm", torch.mm, [_x(3, 4), _x(4, 5, seed=1)]),
    "linear": ("aten.linear", F.linear, [_x(3, 4), _x(5, 4, seed=1)]),
    "einsum": ("aten.einsum", lambda a, b: torch.einsum("bij,bjk->bik", a, b),
               [_x(2, 3, 4), _x(2, 4, 2, seed=1)]),
    "mul": ("aten.mul", torch.mul, [_x(3, 4), _x(3, 4, seed=1)]),
    "div": ("aten.div", torch.div, [_x(3, 4), _x(3, 4, seed=1).abs() + 1]),
    "mul_sigmoid": ("aten.mul", lambda a, b: a * torch.sigmoid(b), [_x(3, 4), _x(3, 4, seed=1)]),
    "glu": ("aten.glu", F.glu, [_x(3, 4)]),
    "relu": ("aten.relu", torch.relu, [_x(3, 4)]),
    "abs": ("aten.abs", torch.abs, [_x(3, 4)]),
    "leaky_relu": ("aten.leaky_relu", lambda a: F.leaky_relu(a, 0.1), [_x(3, 4)]),
    "max_of_two": ("aten.max", torch.max, [_x(3, 4), _x(3, 4, seed=1)]),  # the .other overload
    "amax": ("aten.amax", lambda a: a.amax(-1), [_x(3, 4)]),
    "max_pool2d": ("aten.max_pool2d", lambda a: F.max_pool2d(a, 2), [_x(1, 2, 4, 4)]),
    "topk_values": ("aten.topk", lambda a: a.topk(2).values, [_x(3, 4)]),
    "tanh": ("aten.tanh", torch.tanh, [_x(3, 4)]),
    "gelu": ("aten.gelu", F.gelu, [_x(3, 4)]),
    "exp": ("aten.exp", torch.exp, [_x(3, 4)]),
    "square": ("aten.mul", lambda a: a * a, [_x(3, 4)]),
    "t": ("aten.t", lambda a: a.t(), [_x(3, 4)]),
    "permute": ("aten.permute", lambda a: a.permute(2, 0, 1), [_x(2, 3, 4)]),
    "reshape": ("aten.reshape", lambda a: a.reshape(4, 3), [_x(3, 4)]),
    "cat": ("aten.cat", lambda a, b: torch.cat([a, b]), [_x(3, 4), _x(2, 4, seed=1)]),
    "softmax": ("aten.softmax", lambda a: a.softmax(-1), [_x(3, 4)]),
    "log_softmax": ("aten.log_softmax", lambda a: a.log_softmax(-1), [_x(3, 4)]),
    "layer_norm": ("aten.layer_norm", lambda a: F.layer_norm(a, (4,)), [_x(3, 4)]),
    "divide_by_norm": ("aten.div", lambda a: a / a.norm(dim=-1, keepdim=True), [_x(3, 4)]),
    "gather_by_order": ("aten.gather", lambda a, b: a.gather(1, b.argsort(1)),
                        [_x(3, 4), _x(3, 4, seed=1)]),
    "topk_indices": ("aten.topk", _topk_with_indices, [_x(3, 4)]),
    "greater": ("aten.gt", lambda a: (a > 0).to(a.dtype), [_x(3, 4)]),
    "where": ("aten.where", lambda c, a, b: torch.where(c > 0, a, b),
              [0.1 * _x(3, 4), _x(3, 4, seed=1), _x(3, 4, seed=2)]),
    "add": ("aten.add", lambda a, b: a + b, [_x(3, 4), _x(3, 4, seed=1)]),
    "sub": ("aten.sub", torch.sub, [_x(3, 4), _x(1, 4, seed=1)]),
    "sum": ("aten.sum", lambda a: a.sum(-1), [_x(3, 4)]),
    "mean": ("aten.mean", lambda a: a.mean(0), [_x(3, 4)]),
    # the classes that depend on the facts around the op (classify.py's decisions)
    "mask_product": ("aten.mul", lambda z: z * (z > 0), [_x(3, 4)]),
    "constant_over_input": ("aten.div", lambda a: torch.div(torch.full_like(a, 2.0), a),
                            [_x(3, 4).abs() + 1]),
    "divide_by_constant": ("aten.div", lambda a: a / torch.arange(1.0, 5.0, dtype=a.dtype),
                           [_x(3, 4)]),
    "mul_by_constant": ("aten.mul", lambda a: a * torch.arange(4.0, dtype=a.dtype), [_x(3, 4)]),
    "embedding_of_fixed_rows": ("aten.embedding",
                                lambda w: F.embedding(torch.tensor([0, 1, 3]), w), [_x(4, 3)]),
    "embedding_by_argmax": ("aten.embedding", lambda w, s: F.embedding(s.argmax(-1), w),
                            [_x(4, 3), 0.1 * _x(2, 4, seed=1)]),
    "gather_fixed": ("aten.gather",
                     lambda a: a.gather(1, torch.tensor([[0, 2], [1, 1], [0, 3]])), [_x(3, 4)]),
    "scatter_by_order": ("aten.scatter",
                         lambda a, s: torch.zeros_like(a).scatter(1, s.argsort(1), a),
                         [_x(3, 4), 0.1 * _x(3, 4, seed=1)]),
    "where_of_constants": ("aten.where", lambda a: torch.where(
        a > 0, torch.ones_like(a), torch.zeros_like(a)), [_x(3, 4)]),
    "max_along_dim": ("aten.max", lambda a: a.max(1).values, [_x(3, 4)]),
    "sort_values": ("aten.sort", lambda a: a.sort(1).values, [_x(3, 4)]),
    "batch_norm_eval": ("aten.batch_norm", lambda a: F.batch_norm(
        a, torch.zeros(4, dtype=a.dtype), torch.full((4,), 2.0, dtype=a.dtype)), [_x(3, 4)]),
    "batch_norm_of_a_varying_variance": ("aten.batch_norm", lambda v: F.batch_norm(
        torch.linspace(-1, 1, 12, dtype=v.dtype).reshape(3, 4), torch.zeros_like(v), v),
        [_x(4, seed=1).abs() + 1]),
    "batch_norm_training": ("aten.batch_norm",
                            lambda a: F.batch_norm(a, None, None, training=True), [_x(3, 4)]),
    "prelu_fixed_slope": ("aten.prelu", lambda a: F.prelu(a, torch.tensor([0.1], dtype=a.dtype)),
                          [_x(3, 4)]),
    "lerp_scalar_weight": ("aten.lerp", lambda a, b: torch.lerp(a, b, 0.3),
                           [_x(3, 4), _x(3, 4, seed=1)]),
    "cdist_p1": ("aten.cdist", lambda a, b: torch.cdist(a, b, p=1), [_x(3, 4), _x(2, 4, seed=1)]),
    "norm_p1": ("aten.linalg_vector_norm", lambda a: torch.linalg.vector_norm(a, 1, -1),
                [_x(3, 4)]),
    "norm_p2": ("aten.linalg_vector_norm", lambda a: torch.linalg.vector_norm(a, 2, -1),
                [_x(3, 4)]),
    "sigmoid_backward": ("aten.sigmoid_backward", aten_sigmoid_backward,
                         [_x(3, 4), _x(3, 4, seed=1)]),
}  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread: the oracle's thousands of tiny calls spin on a busy machine otherwise."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Fn(torch.nn.Module):
    def __init__(self, function: Function) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.function(*args)


ORACLE_FORMS: dict[str, Function] = {
    # autograd has no derivative in running_var: the oracle reads torch's formula
    "batch_norm_of_a_varying_variance": lambda v: (
        torch.linspace(-1, 1, 12, dtype=v.dtype).reshape(3, 4) / torch.sqrt(v + 1e-5)
    ),
}
"""The same function written out, for the oracle, where an op has no autograd formula."""


@functools.cache
def expected_class(name: str) -> str:
    _, function, inputs = CASES[name]
    function = ORACLE_FORMS.get(name, function)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return oracle_class(function, inputs)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_class_of_a_node_is_the_oracles(name: str) -> None:
    op, function, inputs = CASES[name]
    expected = expected_class(name)
    result = analyze(_Fn(function), tuple(x.float() for x in inputs))
    classes = [cls for node, cls in result.classes.items() if op_name(node) == op]
    assert classes == [expected], (name, classes, expected)


def test_the_cases_cover_every_class_of_the_taxonomy_but_unknown() -> None:
    expected = {expected_class(name) for name in CASES}
    classes = {"matmul", "relu", "nonlinearity", "transpose", "gating", "normalization"}
    assert expected == classes | {"sparsity", "structural", "elementwise", "reduction"}


# --- the oracle itself tells the classes apart ---------------------------------------


def test_the_oracle_tells_a_product_of_two_entries_from_a_square() -> None:
    x, y = _x(5), _x(5, seed=1)
    assert oracle_class(torch.mul, [x, y]) == "gating"
    assert oracle_class(lambda a: a * a, [x]) == "nonlinearity"
    assert oracle_class(lambda a, b: a * b.sum(), [x, y]) == "matmul"  # a·(1ᵀb): contracted


def test_the_oracle_tells_kinks_from_jumps() -> None:
    x = _x(6)
    assert oracle_class(torch.relu, [x]) == "relu"
    assert oracle_class(torch.floor, [3 * x]) == "sparsity"
    assert oracle_class(lambda a: torch.relu(a) ** 2, [x]) == "nonlinearity"  # kink in a C¹


def test_the_oracle_tells_a_permutation_from_a_copy() -> None:
    x = _x(2, 3)
    assert oracle_class(lambda a: a.flatten(), [x]) == "structural"
    assert oracle_class(lambda a: a.t().flatten(), [x]) == "transpose"
    assert oracle_class(lambda a: 2 * a, [x]) == "elementwise"
    assert oracle_class(lambda a: a.cumsum(0), [x]) == "reduction"


def test_the_oracle_sees_scale_and_shift_invariance() -> None:
    x = _x(3, 4)
    assert oracle_class(lambda a: a - a.mean(-1, keepdim=True), [x]) == "reduction"  # affine
    assert oracle_class(lambda a: torch.exp(a) / torch.exp(a).sum(), [x]) == "normalization"
    assert oracle_class(lambda a: torch.exp(a) / 2, [x]) == "nonlinearity"
    assert oracle_class(lambda a: F.layer_norm(a, (4,)), [x]) == "normalization"


def test_an_oracle_form_is_the_op_it_stands_for() -> None:
    for name, form in ORACLE_FORMS.items():
        _, function, inputs = CASES[name]
        torch.testing.assert_close(form(*inputs), function(*inputs))
