"""Values that escaped the graph into Python scalars, and the ops they may have reached.

``x / x.abs().max().item()`` under a frontend that runs the model for real (``real``,
``fx``) records the ``item`` call, then the division by a *number*: the graph has no
edge from the read value to where it is used. Each later op that takes a numeric
literal may be using it, so the passes treat such a literal as that value (sound, and
said in the analysis' warnings). ``torch.export`` keeps ``.item()`` symbolic, with real
edges, so its graphs have no escapes.

Values read into Python or numpy some other way (``.numpy()``, ``.tolist()``) are marked
by the frontend with an unused ``analyzer.left_torch`` node
(:mod:`analyzer.frontend.escaping`). A tensor the forward built after such a read (a
constant of the recording, ``_tensor_constant0``) may be made of what was read:
:func:`escaped_constants` lists those that are not the module's own tensors, with every
read before them.

>>> import torch, torch.fx as fx
>>> g = fx.Graph(); x = g.placeholder("x")
>>> read = g.call_function(torch.ops.aten.item.default, (x,))
>>> scaled = g.call_function(torch.ops.aten.mul.Tensor, (x, 2.5))
>>> _ = g.output(scaled)
>>> escaped_literals(g) == {scaled: read}
True
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import TracedModel
from analyzer.frontend.escaping import READ_OPS, reads_values

SCALAR_READS = READ_OPS


def escaped_literals(graph: fx.Graph) -> dict[fx.Node, fx.Node]:
    """For each op that takes a numeric literal after a scalar read whose result the
    graph never uses, the latest such read before it."""
    return {node: reads[-1] for node, reads in escaped_literal_reads(graph).items()}


def escaped_literal_reads(graph: fx.Graph) -> dict[fx.Node, list[fx.Node]]:
    """For each op that takes a numeric literal after a scalar read whose result the
    graph never uses, every such read before it (the literal may be any of them)."""
    found: dict[fx.Node, list[fx.Node]] = {}
    reads: list[fx.Node] = []
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        if reads_values(node) and not node.users:
            reads.append(node)
        elif reads and (_has_number(node.args) or _has_number(tuple(node.kwargs.values()))):
            found[node] = list(reads)
    return found


def _has_number(values: tuple) -> bool:
    for value in values:
        if isinstance(value, (list, tuple)):
            if _has_number(tuple(value)):
                return True
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
    return False


def escaped_constants(traced: TracedModel) -> dict[fx.Node, list[fx.Node]]:
    """Each constant of the graph (``get_attr``) made during the forward after a value
    was read out of the graph, with every read before it. A constant is the module's own
    when the frontend says so (``metadata["module_constants"]``) or is a parameter;
    without that record (a stored trace, a hand-built graph) every one is suspect.

    >>> import torch
    >>> g = fx.Graph(); x = g.placeholder("x")
    >>> read = g.call_function(torch.ops.aten.item.default, (x,))
    >>> made = g.get_attr("_tensor_constant0")
    >>> _ = g.output(made)
    >>> escaped_constants(TracedModel(g, {}, "real", "m")) == {made: [read]}
    True
    """
    owned = set(traced.metadata.get("module_constants", ()))
    found: dict[fx.Node, list[fx.Node]] = {}
    reads: list[fx.Node] = []
    for node in traced.graph.nodes:
        if reads_values(node):
            reads.append(node)
        elif node.op == "get_attr" and reads:
            target = str(node.target)
            if target not in owned and not target.startswith("_param_constant"):
                found[node] = list(reads)
    return found
