"""Transfer rules that need more than a join: factor groups, activation derivatives,
convolution gradients, values escaping into Python numbers. Graphs are built by hand so
that each rule is read in isolation."""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from analyzer.analysis import analyze_traced
from analyzer.frontend.dialect import InputKind, TracedModel

aten = torch.ops.aten


def traced_graph(build, inputs: dict[str, tuple[int, ...]], frontend: str = "export"):
    graph = fx.Graph()
    nodes = {}
    for name, shape in inputs.items():
        nodes[name] = graph.placeholder(name)
        nodes[name].meta["val"] = torch.empty(shape, device="meta")
    graph.output((build(graph, nodes),))
    kinds = {name: InputKind.INPUT for name in inputs}
    return analyze_traced(TracedModel(graph, kinds, frontend, "hand-built"))


def test_mse_backward_multiplies_the_gradient_by_a_difference() -> None:
    """2·δ·(x − y)/n: degree d(δ) + max(d(x), d(y)), not d(δ) + d(x) + d(y)."""

    def build(graph, n):
        delta = graph.call_function(aten.mul.Tensor, (n["a"], n["a"]))  # degree 2, pointwise
        return graph.call_function(aten.mse_loss_backward.default, (delta, n["x"], n["y"], 1))

    result = traced_graph(build, {"a": (3,), "x": (3,), "y": (3,)})
    assert result.degree == "3"
    assert [s.kind for s in result.sites] == ["gating"]


def test_activation_derivatives_step_polynomial_or_smooth() -> None:
    def backward(op):
        def build(graph, n):
            return graph.call_function(op, (n["g"], n["y"]))

        return traced_graph(build, {"g": (3,), "y": (3,)})

    tanh = backward(aten.tanh_backward.default)  # δ·(1 − y²)
    assert tanh.degree == "3" and [s.kind for s in tanh.sites] == ["gating"]
    silu = backward(aten.silu_backward.default)
    assert silu.degree == "inf" and silu.sites

    def relu_build(graph, n):
        return graph.call_function(aten.threshold_backward.default, (n["g"], n["y"], 0.0))

    relu = traced_graph(relu_build, {"g": (3,), "y": (3,)})
    assert relu.degree == "1" and relu.sites == [] and relu.output_fact.piecewise


def test_convolution_backward_has_a_fact_and_a_site_per_gradient() -> None:
    graph = fx.Graph()
    delta = graph.placeholder("delta")
    x = graph.placeholder("x")
    weight = graph.placeholder("w")
    for node, shape in ((delta, (1, 4, 5, 5)), (x, (1, 2, 5, 5)), (weight, (4, 2, 3, 3))):
        node.meta["val"] = torch.empty(shape, device="meta")
    grads = graph.call_function(
        aten.convolution_backward.default,
        (delta, x, weight, [4], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, True]),
    )
    grads.meta["val"] = (None, None, None)
    parts = [graph.call_function(operator.getitem, (grads, i)) for i in range(3)]
    graph.output(tuple(parts))
    kinds = {"delta": InputKind.INPUT, "x": InputKind.INPUT, "w": InputKind.PARAMETER}
    result = analyze_traced(TracedModel(graph, kinds, "export", "conv-backward"))
    degrees = [result.facts[p].degree for p in parts]
    assert degrees == [1, 2, 1]  # δ⋆W (W static), δ⋆x, Σδ
    assert [(s.kind, s.part) for s in result.sites] == [("contraction", "grad_weight")]
    assert [t.feeds_contraction for t in result.transposes] == [True]


def test_a_value_escaping_into_a_python_number_reaches_later_literals() -> None:
    """Under the real frontend, x / x.abs().max().item() divides by a number."""

    def build(graph, n):
        largest = graph.call_function(aten.amax.default, (n["x"],))
        graph.call_function(aten.item.default, (largest,))  # its result became a constant
        return graph.call_function(aten.div.Tensor, (n["x"], 3.25))

    frozen = traced_graph(build, {"x": (4,)}, frontend="real")
    assert frozen.degree == "inf" and [s.kind for s in frozen.sites] == ["gating"]
    assert "a Python number here" in frozen.to_json()["input_products"][0]["operands"][1]


def test_census_ops_have_precise_rules() -> None:
    """Ops the transformers census met in the `real` frontend's recordings: the CPU's
    fused LSTM layer gates, the euclidean distance contracts its two inputs, and an
    in-place ``|=`` on masks stays a selection (the mask's product with x is no site)."""

    def lstm_layer(graph, n):
        weights = [graph.placeholder(f"w{i}") for i in range(4)]
        for weight in weights:
            weight.meta["val"] = torch.empty(16, 4, device="meta")
        call = graph.call_function(
            aten.mkldnn_rnn_layer.default,
            (n["x"], *weights, n["h"], n["c"], False, [], 2, 4, 1, True, False, True, False),
        )
        return graph.call_function(operator.getitem, (call, 0))

    lstm = traced_graph(lstm_layer, {"x": (3, 2, 4), "h": (2, 4), "c": (2, 4)})
    assert lstm.unknown_ops == [] and lstm.degree == "inf"
    assert [s.kind for s in lstm.sites] == ["gating"]

    def distance(graph, n):
        return graph.call_function(aten._euclidean_dist.default, (n["x"], n["y"]))

    dist = traced_graph(distance, {"x": (3, 4), "y": (5, 4)})
    assert dist.unknown_ops == [] and [s.kind for s in dist.sites] == ["contraction"]
    assert not dist.output_fact.piecewise

    def masked(graph, n):
        mask = graph.call_function(aten.gt.Scalar, (n["x"], 0.0))
        more = graph.call_function(aten.lt.Scalar, (n["x"], -1.0))
        merged = graph.call_function(aten.__ior__.Tensor, (mask, more))
        return graph.call_function(aten.mul.Tensor, (n["x"], merged))

    mask = traced_graph(masked, {"x": (3, 4)})
    assert mask.unknown_ops == [] and mask.sites == [] and mask.degree == "1"


def test_a_square_reduction_doubles_the_degree() -> None:
    """var(x·y) = mean((xy − mean(xy))²) has degree 4, as has cov(x∘x) = E[(x²)(x²)ᵀ] − …:
    the square of a degree-2 value, not one more than it."""

    def variance(graph, n):
        product = graph.call_function(aten.mul.Tensor, (n["x"], n["y"]))
        return graph.call_function(aten.var.correction, (product,))

    assert traced_graph(variance, {"x": (3, 4), "y": (3, 4)}).degree == "4"

    def covariance(graph, n):
        square = graph.call_function(aten.mul.Tensor, (n["x"], n["x"]))
        return graph.call_function(aten.cov.default, (square,))

    assert traced_graph(covariance, {"x": (3, 4)}).degree == "4"

    def of_an_input(graph, n):
        return graph.call_function(aten.var.correction, (n["x"],))

    assert traced_graph(of_an_input, {"x": (3, 4)}).degree == "2"
