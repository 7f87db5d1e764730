"""Multiply-adds of one node as a sympy expression of its (symbolic) shapes.

Contractions count multiply-adds the way ``torch.utils.flop_counter`` counts FLOPs
(its FLOPs are 2× these): ``mm`` of ``(m, k)·(k, n)`` is ``m·n·k``, a convolution is
output elements × input channels per group × kernel size, a fused attention is two
contractions, ``scores`` (q·kᵀ) and ``mix`` (weights·v). A fused recurrent layer is its
``projections`` (``W_ih·x`` and ``W_hh·h`` every step) and its ``gates`` (one per gate
pre-activation). Every other op costs its element count: the largest of its operands and
results (one operation per output element of a pointwise op, per input element of a
reduction); data movement (views, copies, lookups, factories) costs nothing.

One dict from op name to formula, filled by a decorator; registering an op twice is an
error. A contraction without a formula is reported, never counted as zero silently.

>>> import sympy
>>> numel((sympy.Integer(2), sympy.Symbol("N"), sympy.Integer(16)))
32*N
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy
import torch.fx as fx

from analyzer.frontend.dialect import argument, op_name
from analyzer.passes.registry import Rule
from analyzer.passes.registry_lookup import entry_for
from analyzer.symbolic.symbols import ShapeReader

Parts = dict[str, sympy.Expr]
"""A node's multiply-adds by part: ``{"": e}``, or one entry per product of a fused op."""

Formula = Callable[[fx.Node, ShapeReader], Parts]
CONTRACTIONS: dict[str, Formula] = {}
CONTRACTION_RULES = (Rule.CONTRACTION, Rule.ATTENTION)
FREE_RULES = (Rule.STRUCTURAL, Rule.STATIC, Rule.LOOKUP)  # data movement: no arithmetic


def formula(*names: str) -> Callable[[Formula], Formula]:
    """Register ``function`` as the formula of every op in ``names``; twice is an error."""

    def register(function: Formula) -> Formula:
        for name in names:
            if name in CONTRACTIONS:
                raise ValueError(f"op {name!r} has two cost formulas")
            CONTRACTIONS[name] = function
        return function

    return register


def numel(shape: Sequence[sympy.Expr]) -> sympy.Expr:
    """The number of elements of a shape."""
    return sympy.Mul(*shape)


def _shape(node: fx.Node, reader: ShapeReader, position: int) -> tuple[sympy.Expr, ...]:
    shape = reader.shape(argument(node, position))
    if shape is None:
        raise ValueError(f"{node.name}: argument {position} has no recorded shape")
    return shape


def _out(node: fx.Node, reader: ShapeReader) -> tuple[sympy.Expr, ...]:
    shapes = reader.shapes(node)
    if not shapes:
        raise ValueError(f"{node.name}: no recorded output shape")
    return shapes[0]


def _last_dim_contraction(left: int) -> Formula:
    """Output elements × the contracted length, the last axis of argument ``left``."""

    def count(node: fx.Node, reader: ShapeReader) -> Parts:
        return {"": numel(_out(node, reader)) * _shape(node, reader, left)[-1]}

    return count


# mm, bmm, matmul (broadcast batches included), dot, mv, inner: out × k
formula("aten.mm", "aten.bmm", "aten.matmul", "aten.dot", "aten.vdot", "aten.mv", "aten.inner")(
    _last_dim_contraction(0)
)
formula("aten.addmm", "aten.baddbmm", "aten.addmv")(_last_dim_contraction(1))


@formula("aten.linear")
def _linear(node: fx.Node, reader: ShapeReader) -> Parts:
    return {"": numel(_out(node, reader)) * _shape(node, reader, 1)[-1]}


@formula("aten.addbmm")
def _addbmm(node: fx.Node, reader: ShapeReader) -> Parts:
    batch = _shape(node, reader, 1)  # (b, n, k), summed over b as well
    return {"": numel(_out(node, reader)) * batch[0] * batch[-1]}


@formula("aten.outer", "aten.ger", "aten.addr")
def _outer(node: fx.Node, reader: ShapeReader) -> Parts:
    return {"": numel(_out(node, reader))}  # one product per output element


@formula("aten.tensordot")
def _tensordot(node: fx.Node, reader: ShapeReader) -> Parts:
    left, axes = _shape(node, reader, 0), argument(node, 2, "dims_self")
    return {"": numel(_out(node, reader)) * numel([left[a] for a in axes])}


@formula("aten.bilinear")
def _bilinear(node: fx.Node, reader: ShapeReader) -> Parts:
    weight = _shape(node, reader, 2)  # (out, in1, in2): x₁ᵀ·W_o·x₂ per output
    return {"": numel(_out(node, reader)) * weight[1] * weight[2]}


@formula("aten._trilinear")
def _trilinear(node: fx.Node, reader: ShapeReader) -> Parts:
    # three operands broadcast into one space and summed over `sumdim`: one
    # multiply-add per point of the space
    shapes = [list(_shape(node, reader, i)) for i in range(3)]
    expands = [argument(node, i) for i in range(3, 6)]
    rank = len(shapes[0]) + len(expands[0])
    space: list[sympy.Expr] = [sympy.Integer(1)] * rank
    for shape, expand in zip(shapes, expands, strict=True):
        sizes = iter(shape)
        for axis in range(rank):
            if axis not in expand:
                space[axis] = sympy.Max(space[axis], next(sizes))
    return {"": numel(space)}


@formula("aten.einsum")
def _einsum(node: fx.Node, reader: ShapeReader) -> Parts:
    equation, operands = argument(node, 0), argument(node, 1)
    shapes = [reader.shape(o) for o in operands]
    return {"": einsum_macs(str(equation), [s for s in shapes if s is not None])}


def einsum_macs(equation: str, shapes: list[tuple[sympy.Expr, ...]]) -> sympy.Expr:
    """Multiply-adds of an einsum contracted left to right, pairwise, as torch does:
    each pairwise step is one multiply-add per index that the pair keeps or contracts.

    >>> import sympy
    >>> einsum_macs("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)])
    120
    """
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    sizes: dict[str, sympy.Expr] = {}
    broadcast = 0  # axes under "...": named by private letters, aligned from the right
    for position, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        if "..." in term:
            count = len(shape) - (len(term) - 3)
            broadcast = max(broadcast, count)
            term = term.replace("...", "".join(_ellipsis(count)))
            terms[position] = term
        for letter, size in zip(term, shape, strict=True):
            size = sympy.sympify(size)
            sizes[letter] = sympy.Max(sizes[letter], size) if letter in sizes else size
    if not arrow:  # implicit output: the letters used once, in order
        output = "".join(sorted(c for c in set(inputs) if inputs.count(c) == 1 and c.isalpha()))
    output = output.replace("...", "".join(_ellipsis(broadcast)))
    total: sympy.Expr = sympy.Integer(0)
    current = set(terms[0])
    for index, term in enumerate(terms[1:], start=1):
        later = set(output).union(*map(set, terms[index + 1 :]))
        involved = current | set(term)
        # indices summed out of one operand alone are reductions before the product
        kept = {c for c in involved if c in later or (c in current and c in term)}
        total += numel([sizes[c] for c in sorted(kept) if c in sizes])
        current = {c for c in involved if c in later}
    return total


def _ellipsis(count: int) -> list[str]:
    return [chr(0x3B1 + count - i) for i in range(count, 0, -1)][::-1]


@formula(
    "aten.conv1d", "aten.conv2d", "aten.conv3d", "aten.convolution", "aten._convolution",
    "aten.conv_transpose1d", "aten.conv_transpose2d", "aten.conv_transpose3d",
)  # fmt: skip
def _convolution(node: fx.Node, reader: ShapeReader) -> Parts:
    weight = _shape(node, reader, 1)
    transposed = "transpose" in op_name(node) or (
        op_name(node) in ("aten.convolution", "aten._convolution") and bool(argument(node, 6))
    )
    # regular: every output element reads c_in/groups × kernel inputs; transposed
    # (weight (c_in, c_out/groups, k…)): every input element feeds c_out/groups × kernel
    elements = numel(_shape(node, reader, 0)) if transposed else numel(_out(node, reader))
    return {"": elements * numel(weight[1:])}


@formula(
    "aten.scaled_dot_product_attention", "aten._scaled_dot_product_flash_attention_for_cpu",
    "aten._scaled_dot_product_efficient_attention", "aten._scaled_dot_product_flash_attention",
    "aten._scaled_dot_product_cudnn_attention", "aten._scaled_dot_product_attention_math",
    "aten._scaled_dot_product_fused_attention_overrideable",
)  # fmt: skip
def _attention(node: fx.Node, reader: ShapeReader) -> Parts:
    query, key = _shape(node, reader, 0), _shape(node, reader, 1)
    value = _shape(node, reader, 2)
    keys = key[-2]  # query heads broadcast over grouped key/value heads
    return {
        "scores": numel(query) * keys,  # (…, s_q, d)·(…, d, s_k)
        "mix": numel(query[:-1]) * value[-1] * keys,  # (…, s_q, s_k)·(…, s_k, d_v)
    }


@formula(
    "aten.lstm", "aten.gru", "aten.rnn_tanh", "aten.rnn_relu", "aten.lstm_cell",
    "aten.gru_cell", "aten.rnn_tanh_cell", "aten.rnn_relu_cell",
)  # fmt: skip
def _recurrent(node: fx.Node, reader: ShapeReader) -> Parts:
    data = _shape(node, reader, 0)
    rows = numel(data[:-1])  # batch × steps (a cell: batch)
    if op_name(node).endswith("_cell"):
        weights = [_shape(node, reader, 2), _shape(node, reader, 3)]  # w_ih, w_hh
    else:
        params = argument(node, 2) or []  # (input, hx, params, …)
        weights = [s for s in (reader.shape(p) for p in params) if s is not None and len(s) == 2]
    projections = sympy.Add(*(rows * w[0] * w[1] for w in weights))
    # w_hh of every layer and direction: one gate pre-activation per row
    recurrent = [w for index, w in enumerate(weights) if index % 2 == 1]
    gates = sympy.Add(*(rows * w[0] for w in recurrent))
    return {"projections": projections, "gates": gates}


def node_parts(node: fx.Node, reader: ShapeReader) -> tuple[Parts, bool]:
    """``(parts, counted)``: a node's multiply-adds, and ``False`` where a contraction has
    no formula (its cost is then unknown and reported, never silently zero)."""
    name = op_name(node)
    if name in CONTRACTIONS:
        try:
            return CONTRACTIONS[name](node, reader), True
        except (ValueError, TypeError, IndexError):  # a shape the trace did not record
            return {"": sympy.Integer(0)}, False
    entry = entry_for(node)
    if entry is not None and entry.rule in CONTRACTION_RULES:
        return {"": sympy.Integer(0)}, False
    if entry is not None and entry.rule in FREE_RULES:
        return {"": sympy.Integer(0)}, True
    shapes = reader.shapes(node)
    for operand in node.all_input_nodes:
        shapes.extend(reader.shapes(operand))
    if not shapes:
        return {"": sympy.Integer(0)}, True
    return {"": _largest([numel(s) for s in shapes])}, True


def _largest(counts: list[sympy.Expr]) -> sympy.Expr:
    """The largest element count; counts differ by constant factors only in practice
    (a broadcast), so comparing at one size is enough and avoids a symbolic ``Max``."""
    unique = list(dict.fromkeys(counts))
    if len(unique) == 1:
        return unique[0]
    probe = {s: sympy.Integer(1009) for c in unique for s in c.free_symbols}
    return max(unique, key=lambda c: c.xreplace(probe))
