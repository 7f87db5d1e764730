"""Registry entries that encode a decision, checked one by one against a numeric oracle.

The OpInfo sweep (``tests/passes/test_opinfo.py``) checks a whole graph's claim: a site
somewhere when two inputs multiply, every op pointwise when all are flagged so. Here
each entry's own facts are checked on a real call of its op, with the same oracle
(:mod:`tests.passes.opinfo_oracle`):

* ``multiplied``: two argument positions multiply (a non-zero mixed second derivative
  with a full-rank Hessian) exactly when the entry lists both (``mul``/``div``: every
  operand), so a bias or an added ``self`` is never listed;
* ``pointwise``: one input entry moved changes only the output entries that
  broadcasting maps it to, exactly when the entry is flagged pointwise;
* overloads: ``torch.max(a, b)`` resolves to the ``aten.max.other`` entry (and its
  class is the primitive oracle's), ``torch.max(a, 1)`` to the ``aten.max`` packet.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from analyzer.frontend.dialect import op_name, overload_name
from analyzer.frontend.tracing import trace
from analyzer.passes.registry import Rule
from analyzer.passes.registry_lookup import entry_for, lookup
from tests.passes.opinfo_oracle import Case, Probe, moves_between, pointwise_broken
from tests.passes.test_primitive_oracle import oracle_class

aten = torch.ops.aten


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _pos(*shape: int, seed: int = 0) -> torch.Tensor:
    """Entries in [1, 2): away from poles and branch cuts."""
    generator = torch.Generator().manual_seed(seed)
    return 1 + torch.rand(*shape, generator=generator, dtype=torch.float64)


# registry name: (a call of the op with its tensors positional, in schema order; tensors)
CALLS = {
    "aten.linear": (aten.linear, [_x(3, 4), _x(5, 4, seed=1), _x(5, seed=2)]),
    "aten.addmm": (aten.addmm, [_x(3, 5), _x(3, 4, seed=1), _x(4, 5, seed=2)]),
    "aten.addmv": (aten.addmv, [_x(3), _x(3, 4, seed=1), _x(4, seed=2)]),
    "aten.addr": (aten.addr, [_x(3, 4), _x(3, seed=1), _x(4, seed=2)]),
    "aten.baddbmm": (aten.baddbmm, [_x(2, 3, 5), _x(2, 3, 4, seed=1), _x(2, 4, 5, seed=2)]),
    "aten.bilinear": (aten.bilinear, [_x(3, 2), _x(3, 4, seed=1), _x(5, 2, 4, seed=2),
                                      _x(5, seed=3)]),
    "aten.mm": (aten.mm, [_x(3, 4), _x(4, 5, seed=1)]),
    "aten.mul": (aten.mul, [_x(3, 4), _x(3, 4, seed=1)]),
    "aten.div": (aten.div, [_x(3, 4), _pos(3, 4, seed=1)]),
    "aten.addcmul": (aten.addcmul, [_x(3, 4), _x(3, 4, seed=1), _x(3, 4, seed=2)]),
    "aten.addcdiv": (aten.addcdiv, [_x(3, 4), _x(3, 4, seed=1), _pos(3, 4, seed=2)]),
    "aten.cross": (lambda a, b: aten.linalg_cross(a, b), [_x(4, 3), _x(4, 3, seed=1)]),
    "aten.xlogy": (aten.xlogy, [_x(3, 4), _pos(3, 4, seed=1)]),
    "aten.atan2": (aten.atan2, [_pos(3, 4), _pos(3, 4, seed=1)]),
    "aten.float_power": (aten.float_power, [_pos(3, 4), _x(3, 4, seed=1)]),
    "aten.kl_div": (aten.kl_div, [_x(3, 4), _pos(3, 4, seed=1)]),  # the mean: not pointwise
    "aten.igamma": (aten.igamma, [_pos(3, 4), _pos(3, 4, seed=1)]),
    "aten.cosine_similarity": (aten.cosine_similarity, [_x(3, 4), _x(3, 4, seed=1)]),
    "aten.trapezoid": (lambda y, x: aten.trapezoid(y, x), [_x(3, 5), _x(3, 5, seed=1)]),
    "aten.polar": (aten.polar, [_pos(3, 4), _x(3, 4, seed=1)]),
    "aten.ldexp": (aten.ldexp, [_x(3, 4), _x(3, 4, seed=1)]),
    # one tensor: the pointwise flag only
    "aten.exp": (aten.exp, [_x(3, 4)]),
    "aten.relu": (aten.relu, [_x(3, 4)]),
    "aten.softmax": (lambda a: aten.softmax(a, -1), [_x(3, 4)]),
    "aten.cumsum": (lambda a: aten.cumsum(a, 1), [_x(3, 4)]),
    "aten.logcumsumexp": (lambda a: aten.logcumsumexp(a, 1), [_x(3, 4)]),
    "aten.std": (lambda a: aten.std(a, [1]), [_x(3, 4)]),
    "aten.glu": (lambda a: aten.glu(a, -1), [_x(3, 4)]),
    "aten.pow": (lambda a: aten.pow(a, 3), [_x(3, 4)]),
    "aten.gelu": (aten.gelu, [_x(3, 4)]),
    "aten.prelu": (aten.prelu, [_x(2, 3, 4), _pos(3, seed=1)]),
}  # fmt: skip


def _probe(name: str) -> Probe:
    function, tensors = CALLS[name]
    case = Case(SimpleNamespace(name=name, variant_test_name=""), 0, function, list(tensors))
    return Probe(case, torch.Generator().manual_seed(0))


def _declared_pairs(name: str, count: int) -> set[tuple[int, int]]:
    entry = lookup(name)
    assert entry is not None, name
    if entry.multiplied:
        listed = entry.multiplied
    elif entry.rule in (Rule.PRODUCT, Rule.DIVIDE, Rule.PRELU):
        listed = tuple(range(count))  # mul, div, prelu of a varying slope: every operand
    else:
        listed = ()
    return {(a, b) for a, b in itertools.combinations(range(count), 2) if {a, b} <= set(listed)}


BLIND = {
    ("aten.cross", "multiplied"): "a × a = 0: the oracle moves a and b along one direction "
    "(as a sum a + b would), where the cross product's mixed term vanishes",
    ("aten.polar", "pointwise"): "a complex output: the oracle reads no output shape",
}
"""Entries the oracle cannot judge on one check, with the reason."""

MULTIPLYING = [name for name, (_, tensors) in CALLS.items()
               if len(tensors) > 1 and (name, "multiplied") not in BLIND]  # fmt: skip


@pytest.mark.parametrize("name", MULTIPLYING)
def test_multiplied_positions_are_the_ones_the_oracle_sees_multiplied(name: str) -> None:
    probe = _probe(name)
    count = len(probe.case.tensors)
    declared = _declared_pairs(name, count)
    seen = {}
    for a, b in itertools.combinations(range(count), 2):
        seen[(a, b)] = moves_between(probe, a, b)
    assert None not in seen.values(), seen  # the oracle decided every pair
    assert {pair for pair, multiplied in seen.items() if multiplied} == declared


@pytest.mark.parametrize("name", sorted(n for n in CALLS if (n, "pointwise") not in BLIND))
def test_the_pointwise_flag_is_what_the_oracle_sees(name: str) -> None:
    probe = _probe(name)
    broken = pointwise_broken(probe, torch.Generator().manual_seed(1))
    entry = lookup(name)
    assert entry is not None
    assert (broken is None) is entry.pointwise, broken


def test_the_cases_decide_both_ways() -> None:
    """Some listed pairs and some unlisted, some flagged pointwise and some not."""
    pairs = [_declared_pairs(n, len(CALLS[n][1])) for n in MULTIPLYING]
    assert any(pairs) and any(len(p) < len(CALLS[n][1]) * (len(CALLS[n][1]) - 1) // 2
                              for n, p in zip(MULTIPLYING, pairs, strict=True))  # fmt: skip
    flags = {lookup(n).pointwise for n in CALLS}
    assert flags == {True, False}


class _Fn(torch.nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.function(*args)


def _values_and_indices(a: torch.Tensor) -> torch.Tensor:
    values, indices = torch.max(a, 1)
    return values + indices


OVERLOADS = {
    "max_of_two": (torch.max, [_x(3, 4), _x(3, 4, seed=1)], "aten.max.other"),
    "min_of_two": (torch.min, [_x(3, 4), _x(3, 4, seed=1)], "aten.min.other"),
    "max_of_all": (torch.max, [_x(3, 4)], "aten.max.default"),
    "median_of_all": (torch.median, [_x(3, 5)], "aten.median.default"),
    "max_along_a_dim": (_values_and_indices, [_x(3, 4)], "aten.max"),
}


@pytest.mark.parametrize("name", sorted(OVERLOADS))
def test_an_overload_resolves_to_its_own_entry_with_the_oracles_class(name: str) -> None:
    function, inputs, expected = OVERLOADS[name]
    traced = trace(_Fn(function), tuple(inputs))
    (node,) = [n for n in traced.op_nodes() if op_name(n) in ("aten.max", "aten.min",
                                                             "aten.median")]  # fmt: skip
    entry = entry_for(node)
    assert entry is not None and entry is lookup(expected)
    if expected == "aten.max":
        assert lookup(overload_name(node)) is None  # no entry of its own: the packet's
    else:
        assert overload_name(node) == expected and entry is not lookup(op_name(node))
    classes = {"aten.max": "sparsity"}  # values with indices: a selection (SELECT_TOP)
    assert classes.get(expected, entry.primitive) == oracle_class(function, inputs)


def test_a_torch_max_of_two_inputs_is_continuous_piecewise_linear() -> None:
    """The oracle behind the overload: max(a, b) has no jump, and kinks (relu)."""
    a, b = _x(3, 4), _x(3, 4, seed=1)
    assert oracle_class(torch.max, [a, b]) == "relu"
    assert oracle_class(lambda x: F.relu(x) - F.relu(-x), [a]) == "structural"  # x: no kink
