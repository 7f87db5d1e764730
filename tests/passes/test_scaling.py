"""The passes after tracing are linear in the number of nodes (issue 2)."""

from __future__ import annotations

import time

import torch
import torch.fx as fx

from analyzer.analysis import analyze_traced
from analyzer.frontend.dialect import InputKind, TracedModel

aten = torch.ops.aten


def generated_graph(blocks: int) -> TracedModel:
    """``blocks`` gated residual blocks, 5 op nodes each: h += relu(h @ W) * x."""
    graph = fx.Graph()
    x = graph.placeholder("x")
    x.meta["val"] = torch.empty(4, 4, device="meta")
    weight = graph.placeholder("w")
    h = x
    for _ in range(blocks):
        projected = graph.call_function(aten.mm.default, (h, weight))
        activated = graph.call_function(aten.relu.default, (projected,))
        gated = graph.call_function(aten.mul.Tensor, (activated, x))
        scaled = graph.call_function(aten.mul.Tensor, (gated, 0.5))
        h = graph.call_function(aten.add.Tensor, (h, scaled))
    graph.output((h,))
    kinds = {"x": InputKind.INPUT, "w": InputKind.PARAMETER}
    return TracedModel(graph, kinds, "generated", "generated")


def seconds_to_analyse(blocks: int) -> tuple[float, int]:
    traced = generated_graph(blocks)
    started = time.perf_counter()
    result = analyze_traced(traced)
    document = result.to_json()
    return time.perf_counter() - started, len(document["input_products"])


def test_100k_node_graph_is_analysed_in_linear_time() -> None:
    small, small_sites = seconds_to_analyse(5_000)  # 25k nodes
    large, large_sites = seconds_to_analyse(20_000)  # 100k nodes
    assert (small_sites, large_sites) == (5_000, 20_000)  # every gate is a site
    assert large < 60, f"100k nodes took {large:.1f} s"
    # 4x the nodes; a quadratic pass would take 16x
    assert large / small < 7, f"25k nodes {small:.2f} s, 100k nodes {large:.2f} s"
