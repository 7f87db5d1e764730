"""What the executor needs to know about a traced graph's structure, found from the graph
itself and never from the claims being checked: the continuous sources, what they reach,
which weights the graph writes into, and which nodes live inside the model's own vmap.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> [n.name for n in continuous_sources(trace(torch.nn.Linear(2, 1), (torch.randn(3, 2),)))]
['input_1']
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.empirical.values import is_real_valued, main_tensor
from analyzer.frontend.dialect import InputKind, TracedModel, op_name, tensor_operands

_LOOKUPS = {  # op -> position of the table it reads
    "aten.embedding": 0,
    "aten.index": 0,
    "aten._unsafe_index": 0,
    "aten.index_select": 0,
    "aten.gather": 0,
    "aten.take": 0,
    "aten.take_along_dim": 0,
}


def inside_model_vmap(graph: fx.Graph) -> frozenset[fx.Node]:
    """Nodes computed inside a ``torch.func.vmap`` of the model itself: their values are
    batched at a level that is closed once the region ends, so they are not watched."""
    inside, depth = set(), 0
    for node in graph.nodes:
        name = getattr(node.target, "__name__", "")
        module = getattr(node.target, "__module__", "")
        if module == "torch._functorch.predispatch" and name == "_vmap_increment_nesting":
            depth += 1
        elif module == "torch._functorch.predispatch" and name == "_vmap_decrement_nesting":
            depth -= 1
        elif depth > 0 and name != "_remove_batch_dim":
            inside.add(node)
    return frozenset(inside)


def written_placeholders(graph: fx.Graph) -> frozenset[str]:
    """Placeholders and constants that an in-place op writes into, through views."""
    written = set()
    for node in graph.nodes:
        schema = getattr(node.target, "_schema", None)
        if node.op != "call_function" or schema is None:
            continue
        for position, spec in enumerate(schema.arguments):
            if spec.alias_info is None or not spec.alias_info.is_write:
                continue
            target = (
                node.args[position] if position < len(node.args) else node.kwargs.get(spec.name)
            )
            while isinstance(target, fx.Node) and target.op == "call_function":
                inner = getattr(target.target, "_schema", None)
                returns = inner.returns if inner is not None else ()
                if not returns or returns[0].alias_info is None or not target.args:
                    break
                target = target.args[0]  # a view: follow it to what it views
            if isinstance(target, fx.Node) and target.op in ("placeholder", "get_attr"):
                written.add(target.name)
    return frozenset(written)


def continuous_sources(traced: TracedModel) -> list[fx.Node]:
    """Floating user inputs and lookups of input-free tables by input-reached indices."""
    inputs = [
        n for n in traced.graph.nodes
        if n.op == "placeholder" and traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    reached = reachable(traced, inputs, values_only=True)
    sources = []
    for node in traced.graph.nodes:
        recorded = main_tensor(node.meta.get("val"))
        floating = recorded is not None and is_real_valued(recorded)
        if node in inputs:
            if floating:
                sources.append(node)
            continue
        position = _LOOKUPS.get(op_name(node))
        if position is None or not floating:
            continue
        table = node.args[position] if position < len(node.args) else None
        if (
            isinstance(table, fx.Node) and table not in reached
            and any(i in reached for i in tensor_operands(node) if i is not table)
        ):  # fmt: skip
            sources.append(node)
    return sources


def reachable(
    traced: TracedModel, starts: list[fx.Node], *, values_only: bool = False
) -> frozenset[fx.Node]:
    """Every node a path of arguments leads to from ``starts`` (fx order is topological).
    With ``values_only``, a path goes only through the arguments an op takes values from:
    ``new_full(x, size, 1)`` or ``zeros_like(x)`` read x's shape and dtype, not its values
    (the registry's static ops read none, its fills and copies only their ``value_args``)."""
    reached = set(starts)
    for node in traced.graph.nodes:
        if node in reached:
            continue
        operands = _value_operands(node) if values_only else tensor_operands(node)
        if any(o in reached for o in operands):
            reached.add(node)
    return frozenset(reached)


def _value_operands(node: fx.Node) -> list[fx.Node]:
    """The operands ``node`` takes values from (see :func:`reachable`)."""
    from analyzer.passes.operands import named_nodes
    from analyzer.passes.registry import Rule
    from analyzer.passes.registry_lookup import entry_for

    entry = entry_for(node) if node.op == "call_function" else None
    if entry is None:
        return tensor_operands(node)
    if entry.rule is Rule.STATIC:  # factories, shape queries
        return []
    if entry.value_args:  # a fill or a copy: the other arguments give a shape only
        return [n for name in entry.value_args for n in named_nodes(node, name)]
    return tensor_operands(node)


BITCASTS = frozenset({"aten.view", "aten.view_copy"})  # their ``.dtype`` overloads


def bitcasts(graph: fx.Graph, varying: frozenset[fx.Node]) -> list[fx.Node]:
    """The nodes that reinterpret a varying real value's bits as integers
    (``x.view(torch.int32)``): a function of the value autograd cannot follow, since an
    integer has no tangent, though the bits may be turned back into floats later
    (``(x.view(int) & mask).view(float)`` is ``|x|``)."""
    found = []
    for node in graph.nodes:
        if node.op != "call_function" or op_name(node) not in BITCASTS or node not in varying:
            continue
        overload = getattr(node.target, "_overloadname", "")
        source = node.args[0] if node.args else None
        value, before = main_tensor(node.meta.get("val")), None
        if isinstance(source, fx.Node):
            before = main_tensor(source.meta.get("val"))
        if overload != "dtype" or value is None or before is None:
            continue
        if is_real_valued(before) and not is_real_valued(value):
            found.append(node)
    return found
