"""Decisions of the class pass that no traced model reaches: graphs loaded from a stored
file carry an output count (``meta["outputs"]``) instead of example values."""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from analyzer.passes.classify import _indices_used


def _topk_graph(read: tuple[int, ...], outputs: int | None) -> fx.Node:
    """``topk(x)`` whose members ``read`` are used, with no example value (a loaded graph)."""
    graph = fx.Graph()
    x = graph.placeholder("x")
    top = graph.call_function(torch.ops.aten.topk.default, (x, 2))
    if outputs is not None:
        top.meta["outputs"] = outputs
    members = [graph.call_function(operator.getitem, (top, i)) for i in (0, 1)]
    graph.output(tuple(members[i] for i in read))
    return top


def test_indices_are_used_when_a_loaded_graph_reads_member_one() -> None:
    assert _indices_used(_topk_graph((0, 1), outputs=2))
    assert _indices_used(_topk_graph((1,), outputs=2))
    assert not _indices_used(_topk_graph((0,), outputs=2))  # the values alone: relu-like
    assert not _indices_used(_topk_graph((0,), outputs=3))


def test_one_output_is_the_selection_itself() -> None:
    """A values-and-indices op recorded with one output (or none recorded) is read whole."""
    assert _indices_used(_topk_graph((0,), outputs=1))
    assert _indices_used(_topk_graph((0,), outputs=None))


def test_a_token_embedding_is_structural() -> None:
    """Integer ids reading a fixed table: a continuous source, no selection of the input
    (its ids are the selector; the table, the data, is static)."""
    from torch import nn

    from analyzer import analyze
    from analyzer.frontend.dialect import op_name

    result = analyze(nn.Embedding(10, 4), (torch.tensor([[1, 7, 3]]),))
    assert [c for n, c in result.classes.items() if op_name(n) == "aten.embedding"] == [
        "structural"
    ]
    assert result.circuit_class == []
