"""The oracle gets known functions right: polynomials, tanh, ReLU nets, kinks, hidden
dependence (``.item()``, sampling), static outputs, integer inputs and embedding sources."""

from __future__ import annotations

import math

import torch
from torch import nn

from tests.adversarial.oracle import CAP, INF, LOCAL_CAP, Measured, Oracle


def measure(function, *args, **options) -> Measured:
    torch.manual_seed(0)
    return Oracle(function, args, **options).measure()


def test_polynomials_have_their_degree_and_cross_terms() -> None:
    x = torch.randn(2, 3)
    cubic = measure(lambda x: x[:, :1] * x[:, 1:2] ** 2 + x, x)
    assert (cubic.dependence, cubic.degree, cubic.kinks, cubic.cross) == (
        "continuous", 3, False, True,
    )  # fmt: skip
    square = measure(lambda x: x**2, x)
    assert (square.degree, square.cross) == (2, False)  # pointwise: no cross-entry term
    linear = measure(lambda x: 3 * x - 1, x)
    assert (linear.degree, linear.cross) == (1, False)


def test_degrees_up_to_the_cap_are_exact_and_above_it_read_as_inf() -> None:
    assert measure(lambda x: x.prod(-1), torch.randn(2, CAP)).degree == CAP
    above = measure(lambda x: x.prod(-1), torch.randn(2, CAP + 2))
    assert above.degree == INF and above.degree_consistent_with(CAP + 2)
    assert not above.degree_consistent_with(2)


def test_a_tiny_scale_does_not_hide_the_degree() -> None:
    measured = measure(lambda x, y: (1e-5 * x) * (1e-5 * y), torch.randn(3), torch.randn(3))
    assert (measured.degree, measured.cross) == (2, True)


def test_smooth_nonlinearities_are_not_polynomials() -> None:
    weight = torch.randn(4, 4, dtype=torch.float64)
    for function in (lambda x: torch.tanh(x @ weight), torch.sigmoid, torch.exp):
        measured = measure(function, torch.randn(2, 4))
        assert measured.degree == INF and measured.at_least == LOCAL_CAP + 1


def test_relu_networks_are_piecewise_affine_without_cross_terms() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    measured = measure(net, torch.randn(3, 4))
    assert (measured.degree, measured.kinks, measured.cross) == (1, True, False)
    assert measure(lambda x: torch.relu(x) ** 2, torch.randn(2, 4)).degree == 2


def test_dependence_hidden_from_autograd_is_seen() -> None:
    x = torch.randn(2, 4)
    hidden = measure(lambda x: x * x.sum().item(), x)
    assert (hidden.dependence, hidden.degree, hidden.cross) == ("continuous", 2, True)
    assert measure(lambda x: x * torch.tensor(x.tolist()), x).degree == 2
    sampled = measure(lambda x: torch.normal(mean=x, std=0.5), x)
    assert (sampled.dependence, sampled.degree) == ("continuous", 1)  # reseeded: x + fixed ε


def test_discrete_and_static_outputs() -> None:
    x = torch.randn(2, 4)
    coin = measure(lambda x: torch.bernoulli(torch.sigmoid(x)), x)
    assert (coin.dependence, coin.degree) == ("discrete", 0)
    assert measure(lambda x: (x > 0).float(), x).dependence == "discrete"
    assert measure(lambda x: x - x, x).dependence == "static"
    assert measure(lambda x: torch.ones(3), x).dependence == "static"
    ids = torch.randint(0, 5, (2, 3))
    assert measure(lambda ids: (ids * 2).float(), ids).dependence == "discrete"


def test_embedding_outputs_are_continuous_sources() -> None:
    torch.manual_seed(0)

    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 3)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            e = self.embed(ids)
            return e[:, 0] * e[:, 1]

    ids = torch.tensor([[1, 2], [3, 4]])
    without = Oracle(Pair(), (ids,)).measure()
    assert without.dependence == "discrete"  # integer inputs only
    measured = Oracle(Pair(), (ids,), sources=("embed",)).measure()
    assert (measured.dependence, measured.degree, measured.cross) == ("continuous", 2, True)


def test_complex_dict_and_keyword_inputs() -> None:
    z = torch.randn(3, dtype=torch.complex64)
    squared = measure(lambda z: torch.view_as_real(z * z), z)
    assert (squared.degree, squared.cross) == (2, True)  # 2·re·im
    batch = {"a": torch.randn(3), "b": torch.randn(3)}
    assert measure(lambda d: d["a"] * d["b"], batch).degree == 2
    oracle = Oracle(lambda x, *, s: x * s, (torch.randn(3),), {"s": torch.randn(3)})
    assert oracle.measure().degree == 2


def test_state_and_inputs_are_restored_before_every_call() -> None:
    class Counter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("calls", torch.zeros(()))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            x.mul_(2)  # writes into its input
            return x * self.calls

    model, x = Counter(), torch.randn(3)
    oracle = Oracle(model, (x.clone(),))
    first = oracle.evaluate(None)
    assert torch.equal(first, oracle.evaluate(None)) and torch.equal(first, 2 * x.double())
    assert oracle.measure().degree == 1
    assert float(model.calls) == 0.0  # the caller's module was copied, never run


def test_degree_consistency_with_labels() -> None:
    exact = Measured("continuous", 2, 2, False, True)
    assert exact.degree_consistent_with(2) and not exact.degree_consistent_with(3)
    unresolved = Measured("continuous", INF, 3, False, True)
    assert unresolved.degree_consistent_with(math.inf) and unresolved.degree_consistent_with(4)
    assert not unresolved.degree_consistent_with(2)
