"""Reading an op's operands: which nodes sit at which argument, which are multiplied,
and which of them carry continuous values. Shared by the transfer functions and the
site rules, so that both read an op the same way.

Operands are read by argument position, or by name from the op's schema where
positions differ between overloads; lists (``cat``, ``einsum``) are flattened.

>>> import torch, torch.fx as fx
>>> g = fx.Graph(); x = g.placeholder("x")
>>> mul = g.call_function(torch.ops.aten.mul.Tensor, (x, x))
>>> [n.name for n in operand_references(mul, (0, 1))]
['x', 'x']
>>> [n.name for n in multiplied_operands(mul, (0, 1))]
['x']
"""

from __future__ import annotations

import math
from typing import Any

import torch.fx as fx

from analyzer.frontend.dialect import (
    argument,
    argument_named,
    node_inputs,
    op_schema,
    value_meta,
)
from analyzer.passes.facts import STATIC_FACT, Fact, Facts
from analyzer.passes.registry import OpEntry


def operand_references(node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    """The nodes at argument ``positions`` (``-1``: the last), lists flattened, repeats kept;
    a position past the positional arguments is read by its schema name from the keywords."""
    return [ref for position in positions for ref in node_inputs(_argument_at(node, position))]


def _argument_at(node: fx.Node, position: int) -> Any:
    if position < len(node.args):
        return argument(node, position)
    schema = op_schema(node)
    if schema is None or position >= len(schema.arguments):
        return None
    return node.kwargs.get(schema.arguments[position].name)


def multiplied_positions(node: fx.Node, entry: OpEntry) -> tuple[int, ...]:
    """The argument positions an op multiplies: declared, else every argument (``mul``)."""
    return entry.multiplied or tuple(range(len(node.args)))


def multiplied_operands(node: fx.Node, positions: tuple[int, ...]) -> list[fx.Node]:
    """The nodes at argument ``positions``, lists flattened, in order, without repeats."""
    return list(dict.fromkeys(operand_references(node, positions)))


def factor_groups(node: fx.Node, entry: OpEntry) -> list[list[fx.Node]]:
    """The factors of a product, each a list of the nodes summed into it: one node per
    multiplied position for ``mul``; declared groups for ``δ · (x − y)``."""
    if entry.factors:
        return [operand_references(node, group) for group in entry.factors]
    return [[n] for n in operand_references(node, multiplied_positions(node, entry))]


def named_node(node: fx.Node, name: str) -> fx.Node | None:
    """The tensor argument called ``name`` in the op's schema, if it is a graph node."""
    value = argument_named(node, name)
    return value if isinstance(value, fx.Node) else None


def named_nodes(node: fx.Node, name: str) -> list[fx.Node]:
    """The nodes of the argument called ``name`` (a list argument flattened)."""
    return node_inputs(argument_named(node, name))


def is_integer(node: fx.Node) -> bool:
    """Whether a value's type is an integer one (``bool`` is not)."""
    _, dtype = value_meta(node)
    return dtype is not None and dtype.startswith(("int", "uint", "long"))


def holds_bits(node: fx.Node, facts: Facts) -> bool:
    """Whether a value is an integer tensor that varies continuously with the input: only
    a float's bits read as an integer (``x.view(int32)``) are one, so what is done to it
    (a mask, a shift, a cast) is worst case, not a rounding."""
    return facts[node].is_continuous and is_integer(node)


def is_complex(node: fx.Node) -> bool:
    """Whether a value is complex: its "pointwise" ops mix its real and imaginary parts."""
    _, dtype = value_meta(node)
    return dtype is not None and dtype.startswith("complex")


def output_count(node: fx.Node) -> int:
    """How many values an op returns (1 for a plain tensor)."""
    value = node.meta.get("val")
    if isinstance(value, (tuple, list)):
        return len(value)
    return int(node.meta.get("outputs", 1))


def size_along(node: fx.Node | None, dim: Any) -> int | None:
    """The length of ``node``'s value along ``dim`` (all entries when ``dim`` is None)."""
    shape, _ = value_meta(node) if node is not None else (None, None)
    if shape is None or any(not isinstance(s, int) for s in shape):
        return None
    if dim is None:
        return math.prod(shape)
    dims = dim if isinstance(dim, (list, tuple)) else [dim]
    try:
        return math.prod(shape[d] for d in dims) if shape else 1
    except (IndexError, TypeError):
        return None


# --- the facts of operands ---------------------------------------------------------------


def facts_at(node: fx.Node, positions: tuple[int, ...], facts: Facts) -> list[Fact]:
    """Facts of the nodes at argument ``positions``, repeats kept (``x * x`` is quadratic)."""
    return [facts[n] for n in operand_references(node, positions)]


def fact_of(facts: Facts, node: fx.Node | None) -> Fact:
    """The fact of an optional operand: static when it is absent."""
    return STATIC_FACT if node is None else facts[node]


def continuous(facts: Facts, *nodes: fx.Node | None) -> list[fx.Node]:
    """The given nodes that carry continuous values, in order, without repeats."""
    return list(dict.fromkeys(n for n in nodes if n is not None and facts[n].is_continuous))


def continuous_references(node: fx.Node, positions: tuple[int, ...], facts: Facts) -> list[fx.Node]:
    """The continuous nodes at argument ``positions``, repeats kept."""
    return [n for n in operand_references(node, positions) if facts[n].is_continuous]


def continuous_operands(
    node: fx.Node, positions: tuple[int, ...], facts: Facts
) -> tuple[fx.Node, ...]:
    """The continuous nodes at argument ``positions``, without repeats."""
    return tuple(n for n in multiplied_operands(node, positions) if facts[n].is_continuous)
