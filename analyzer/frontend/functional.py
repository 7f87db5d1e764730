"""Mutation in a traced graph: finding it, and torch's functionalization that removes it.

The passes must read a *functional* graph: ``out[:, 0] = x * y`` is a ``copy_`` into a
view of ``out``, and a def-use reading of that graph never sees ``out`` change. torch's
functionalization rewrites every in-place write into a functional op (``copy``,
``select_scatter``, ``index_put``) whose result the later readers use, and inlines
higher-order ops such as ``wrap_with_set_grad_enabled`` (a ``no_grad`` block).

Functionalizing costs about as much as exporting, so it runs only when the graph has
something to remove: an op whose schema writes into an argument, or a higher-order op.
A graph with neither is already functional.

>>> import torch
>>> class Write(torch.nn.Module):
...     def forward(self, x):
...         out = torch.zeros_like(x)
...         out[:, 0] = x[:, 0] * x[:, 1]
...         return out
>>> program = torch.export.export(Write(), (torch.randn(2, 3),), strict=False)
>>> [n.name for n in mutating_nodes(program.graph)]
['copy_']
>>> mutating_nodes(functional_program(program).graph)
[]
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from analyzer.frontend.dialect import op_schema


def writes_into(node: fx.Node) -> list[int]:
    """Positions of the arguments an op writes into (``copy_(self, src)``: ``[0]``)."""
    schema = op_schema(node) if node.op == "call_function" else None
    if schema is None or not schema.is_mutable:
        return []
    return [
        position
        for position, argument in enumerate(schema.arguments)
        if argument.alias_info is not None and argument.alias_info.is_write
    ]


def is_higher_order(node: fx.Node) -> bool:
    """A higher-order op (``wrap_with_set_grad_enabled``, ``cond``, …) with a subgraph."""
    return node.op == "call_function" and isinstance(node.target, torch._ops.HigherOrderOperator)


def storage_roots(graph: fx.Graph) -> dict[fx.Node, fx.Node]:
    """For every node, the node whose storage its value lives in: a view (``select``,
    ``slice``, ``split``'s parts) or an in-place op's result shares its argument's."""
    root: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        root[node] = node
        if node.op != "call_function":
            continue
        if node.target is operator.getitem:
            source = node.args[0]
            if isinstance(source, fx.Node) and _returns_alias(source) is not None:
                root[node] = root[source]
            continue
        position = (writes_into(node) or [None])[0]
        if position is None:
            position = _returns_alias(node)
        if position is not None and position < len(node.args):
            base = node.args[position]
            if isinstance(base, fx.Node):
                root[node] = root[base]
    return root


def _returns_alias(node: fx.Node) -> int | None:
    """The argument position whose storage the op's result views, if it is a view."""
    schema = op_schema(node)
    if schema is None or not schema.returns or schema.returns[0].alias_info is None:
        return None
    aliases = schema.returns[0].alias_info.before_set
    for position, argument in enumerate(schema.arguments):
        if argument.alias_info is not None and argument.alias_info.before_set & aliases:
            return position
    return None


def mutating_nodes(graph: fx.Graph) -> list[fx.Node]:
    """Nodes that write into a tensor in place or hide a subgraph in a higher-order op."""
    return [n for n in graph.nodes if writes_into(n) or is_higher_order(n)]


def functional_program(
    program: torch.export.ExportedProgram,
) -> torch.export.ExportedProgram:
    """``program`` with every in-place write made functional and higher-order ops inlined
    (``run_decompositions`` with an empty table: fused ops stay whole; ``torch.cond`` as
    a selection between its two branches). Returns ``program`` itself when it is
    functional already."""
    if not mutating_nodes(program.graph):
        return program
    program = program.run_decompositions({})
    inline_conditionals(program.graph_module)
    return program


def inline_conditionals(graph_module: fx.GraphModule) -> int:
    """Replace each ``torch.cond(pred, true_fn, false_fn, operands)`` by both branches,
    inlined, and ``where(pred, true_i, false_i)`` per output: the same values, and every
    product of either branch visible as a node. Returns how many were inlined.

    Both branches are then computed for every input, which is what the analysis (which
    over-approximates a selection by the union of its alternatives) and a derivative
    check need; a branch that raises on the other branch's inputs would show there.
    """
    graph = graph_module.graph
    count = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not torch.ops.higher_order.cond:
            continue
        predicate, true_attr, false_attr, operands = node.args[:4]
        branches = [getattr(graph_module, a.target) for a in (true_attr, false_attr)]
        with graph.inserting_before(node):
            results = [_inline(graph, branch.graph, list(operands)) for branch in branches]
            selected = [
                graph.call_function(torch.ops.aten.where.self, (predicate, t, f))
                for t, f in zip(results[0], results[1], strict=True)
            ]
        for user in list(node.users):
            if user.target is operator.getitem and isinstance(user.args[1], int):
                user.replace_all_uses_with(selected[user.args[1]])
                graph.erase_node(user)
        if node.users:  # used as a whole tuple: keep the op (analysed as unknown)
            continue
        graph.erase_node(node)
        count += 1
    if count:
        graph.eliminate_dead_code()
        graph_module.recompile()
    return count


def _inline(graph: fx.Graph, body: fx.Graph, operands: list[fx.Node]) -> list[fx.Node]:
    placeholders = [n for n in body.nodes if n.op == "placeholder"]
    value_map: dict[fx.Node, fx.Node] = dict(zip(placeholders, operands, strict=True))
    output = graph.graph_copy(body, value_map, return_output_node=True)
    values = output[0] if isinstance(output, tuple) else output
    returned = values.args[0] if isinstance(values, fx.Node) and values.op == "output" else values
    graph.erase_node(values) if isinstance(values, fx.Node) and values.op == "output" else None
    return list(returned) if isinstance(returned, (tuple, list)) else [returned]


FUNCTORCH_WRAPPERS = frozenset(
    {"_unwrap_for_grad", "_wrap_for_grad", "_grad_increment_nesting", "_grad_decrement_nesting",
     "_jvp_increment_nesting", "_jvp_decrement_nesting", "_wrap_functional_tensor",
     "_unwrap_functional_tensor"}
)  # fmt: skip


def loses_functorch_inputs(graph: fx.Graph) -> bool:
    """Whether export traced a ``torch.func`` transform inside forward by capturing its
    input as a constant: the graph then has functorch's wrapper calls and no edge from the
    real input, so it must not be analysed (another frontend follows the values)."""
    return any(
        n.op == "call_function" and getattr(n.target, "__name__", "") in FUNCTORCH_WRAPPERS
        for n in graph.nodes
    )


def assigns_tensor_data(graph: fx.Graph) -> bool:
    """Whether the forward assigned ``Tensor.data`` while export traced it: export keeps only
    the assignment's type check (``aten._has_compatible_shallow_copy_type``) and drops the
    storage swap, so the target reads as the tensor it was before (a buffer as a constant),
    and the graph must not be analysed (another frontend follows the assigned values).

    >>> g = fx.Graph(); b, v = g.placeholder("b"), g.placeholder("v")
    >>> _ = g.call_function(torch.ops.aten._has_compatible_shallow_copy_type.default, (b, v))
    >>> assigns_tensor_data(g)
    True
    """
    check = torch.ops.aten._has_compatible_shallow_copy_type.default
    return any(n.target is check for n in graph.nodes)
