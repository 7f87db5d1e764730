"""Values that escaped the graph into Python scalars, and the ops they may have reached.

``x / x.abs().max().item()`` under a frontend that runs the model for real (``real``,
``fx``) records the ``item`` call, then the division by a *number*: the graph has no
edge from the read value to where it is used. Each later op that takes a numeric
literal may be using it, so the passes treat such a literal as that value (sound, and
said in the analysis' warnings). ``torch.export`` keeps ``.item()`` symbolic, with real
edges, so its graphs have no escapes.

>>> import torch.fx as fx, torch
>>> g = fx.Graph(); x = g.placeholder("x")
>>> read = g.call_function(torch.ops.aten.item.default, (x,))
>>> scaled = g.call_function(torch.ops.aten.mul.Tensor, (x, 2.5))
>>> _ = g.output(scaled)
>>> escaped_literals(g) == {scaled: read}
True
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import op_name

SCALAR_READS = frozenset({"aten.item", "aten._local_scalar_dense"})


def escaped_literals(graph: fx.Graph) -> dict[fx.Node, fx.Node]:
    """For each op that takes a numeric literal after a scalar read whose result the
    graph never uses, the latest such read before it."""
    found: dict[fx.Node, fx.Node] = {}
    latest: fx.Node | None = None
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        if op_name(node) in SCALAR_READS and not node.users:
            latest = node
        elif (latest is not None and _has_number(node.args)) or (
            latest is not None and _has_number(tuple(node.kwargs.values()))
        ):
            found[node] = latest
    return found


def _has_number(values: tuple) -> bool:
    for value in values:
        if isinstance(value, (list, tuple)):
            if _has_number(tuple(value)):
                return True
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
    return False
