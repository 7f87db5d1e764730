"""Dynamic transposes, and which of them make weights dynamic (docs/concepts.md).

A transpose of a continuous value *feeds a contraction* only when it changes how an
operand of a ``contraction`` site is contracted. In ``A·B`` the left operand is
naturally contracted along its last (feature) axis and the right one along another
axis; an operand contracted the other way round is used transposed, whatever permutes
led there: ``K`` contracted along its feature axis in ``Q·Kᵀ``, ``δ`` contracted along
its batch axis in the weight gradient ``δᵀ·x``. A head or sequence permute that leaves
the contracted axis's role alone (``V`` reshaped to ``(b, h, s, d)`` before ``A·V``) is
layout.

To tell the two apart, each contracted axis is traced back through the structural ops
that produced the operand (views, reshapes, permutes, expands, copies) to the value
they started from, whose last axis is its feature axis.

>>> import torch
>>> from analyzer import analyze
>>> class Attention(torch.nn.Module):
...     def forward(self, x):
...         return torch.softmax(x @ x.transpose(-2, -1), -1) @ x
>>> [t.feeds_contraction for t in analyze(Attention(), (torch.randn(2, 5, 4),)).transposes]
[True]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

from analyzer.frontend.dialect import TracedModel, argument, argument_named, op_name, value_meta
from analyzer.passes.facts import Facts, Site
from analyzer.passes.operands import multiplied_operands
from analyzer.passes.registry import TRANSPOSE_OPS, Rule
from analyzer.passes.registry_lookup import entry_for


@dataclass(frozen=True, slots=True)
class DynamicTranspose:
    """A transpose of a continuous value, explicit or implied by a fused op."""

    node: fx.Node
    implied: bool
    feeds_contraction: bool


def dynamic_transposes(
    traced: TracedModel, facts: Facts, sites: list[Site]
) -> list[DynamicTranspose]:
    """Every transpose of a continuous value, with whether it feeds a contraction."""
    feeding: set[fx.Node] = set()  # explicit transposes on a transposed operand's chain
    implied: dict[fx.Node, bool] = {}  # contraction nodes that transpose an operand inside
    for site in sites:
        if site.part in TRANSPOSING_PARTS:
            implied[site.node] = True
        if site.kind != "contraction" or site.part is not None:
            continue
        for operand, axis, left in contracted_axes(site.node):
            if not used_transposed(operand, axis, left):
                continue
            explicit = role_changing_transposes(operand, axis)
            if explicit:
                feeding.update(explicit)
            else:
                implied[site.node] = True
    scores = {s.node for s in sites if s.part == "scores"}
    found = []
    for node in traced.op_nodes():
        if op_name(node) in TRANSPOSE_OPS:
            source = node.args[0]
            if isinstance(source, fx.Node) and facts[source].is_continuous:
                found.append(DynamicTranspose(node, False, node in feeding))
            continue
        entry = entry_for(node)
        if entry is not None and entry.transposes is not None:
            transposed = multiplied_operands(node, (entry.transposes,))
            if any(facts[n].is_continuous for n in transposed):
                feeds = node in scores if entry.rule is Rule.ATTENTION else node in implied
                found.append(DynamicTranspose(node, True, feeds))
                continue
        if node in implied:
            found.append(DynamicTranspose(node, True, True))
    return found


TRANSPOSING_PARTS = frozenset({"grad_weight", "grad_key", "grad_value"})
"""Parts of fused backward ops that contract a gradient with an activation along the
batch or sequence axis: δᵀ·x inside ``convolution_backward``, Aᵀ·δ and dSᵀ·q inside
attention's backward."""


def contracted_axes(node: fx.Node) -> list[tuple[fx.Node, int, bool]]:
    """``(operand, axis, is_left)`` for each operand a contraction contracts: the axis of
    the operand's own value that is summed over. Empty for ops without a contracted axis
    (outer products, convolutions)."""
    name = op_name(node)
    if name == "aten.einsum":
        return _einsum_axes(node)
    layout = _LAYOUTS.get(name)
    if layout is None:
        return []
    found = []
    for position, axis_of, left in layout:
        operand = argument(node, position)
        ndim = _ndim(operand)
        if isinstance(operand, fx.Node) and ndim:
            found.append((operand, axis_of(ndim) % ndim, left))
    return found


def used_transposed(operand: fx.Node, axis: int, left: bool) -> bool:
    """Whether an operand is contracted the other way round from its natural use."""
    if _ndim(operand) in (None, 0, 1):
        return False  # a vector has one axis: nothing to transpose
    source, source_axis = axis_origin(operand, axis)
    if source_axis is None:
        return False  # a broadcast axis of size one
    feature = source_axis == (_ndim(source) or 0) - 1
    return not feature if left else feature


def axis_origin(node: fx.Node, axis: int) -> tuple[fx.Node, int | None]:
    """The value and axis a node's ``axis`` comes from, through structural ops."""
    current, current_axis = node, axis
    while True:
        step = _axis_back(current, current_axis)
        if step is None:
            return current, current_axis
        current, current_axis = step
        if current_axis is None:
            return current, None


def role_changing_transposes(node: fx.Node, axis: int) -> list[fx.Node]:
    """The transposes between a value and ``axis`` of ``node`` that move that axis into or
    out of the last (feature) position: the ones that make the use transposed. A permute
    that leaves the axis where it stands relative to the end is layout."""
    found = []
    current, current_axis = node, axis
    while (step := _axis_back(current, current_axis)) is not None:
        previous, previous_axis = step
        if previous_axis is None:
            break
        if op_name(current) in TRANSPOSE_OPS:
            was_last = previous_axis == (_ndim(previous) or 0) - 1
            is_last = current_axis == (_ndim(current) or 0) - 1
            if was_last != is_last:
                found.append(current)
        current, current_axis = previous, previous_axis
    return found


# --- reading contractions ----------------------------------------------------------


def _last(ndim: int) -> int:
    return ndim - 1


def _second_last(ndim: int) -> int:
    return ndim - 2 if ndim >= 2 else 0


# op → (argument position, contracted axis as a function of the operand's rank, is left)
_LAYOUTS = {
    "aten.mm": [(0, _last, True), (1, _second_last, False)],
    "aten.bmm": [(0, _last, True), (1, _second_last, False)],
    "aten.matmul": [(0, _last, True), (1, _second_last, False)],
    "aten.addmm": [(1, _last, True), (2, _second_last, False)],
    "aten.baddbmm": [(1, _last, True), (2, _second_last, False)],
    "aten.addbmm": [(1, _last, True), (2, _second_last, False)],
    "aten.mv": [(0, _last, True), (1, _last, False)],
    "aten.addmv": [(1, _last, True), (2, _last, False)],
    # x·Wᵀ: the weight [out, in] is contracted along its last axis
    "aten.linear": [(0, _last, True), (1, _last, False)],
    "aten.inner": [(0, _last, True), (1, _last, False)],
}


def _einsum_axes(node: fx.Node) -> list[tuple[fx.Node, int, bool]]:
    equation, operands = node.args[0], node.args[1]
    if not isinstance(equation, str) or not isinstance(operands, (list, tuple)):
        return []
    inputs, _, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if "." in equation or len(terms) != len(operands):
        return []  # ellipses: leave the layout unread (no claim either way)
    if not _:
        counts = {c: inputs.count(c) for c in inputs if c != ","}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    found = []
    for index, (term, operand) in enumerate(zip(terms, operands, strict=True)):
        if not isinstance(operand, fx.Node):
            continue
        summed = [
            i for i, label in enumerate(term)
            if label not in output and any(label in t for j, t in enumerate(terms) if j != index)
        ]  # fmt: skip
        if summed:
            # the axis that decides: the last one summed over (the feature axis if any is)
            axis = len(term) - 1 if len(term) - 1 in summed else summed[-1]
            found.append((operand, axis, index == 0))
    return found


# --- following an axis back through structural ops ---------------------------------

_IDENTITY = frozenset(
    "aten.clone aten.contiguous aten._to_copy aten.to aten.alias aten.detach aten.type_as "
    "aten.lift_fresh_copy aten.alias_copy aten.detach_copy aten.slice aten.narrow "
    "aten.slice_copy aten.dropout aten.native_dropout operator.getitem".split()
)
_RESHAPES = frozenset(
    "aten.view aten.reshape aten._unsafe_view aten._reshape_alias aten.flatten "
    "aten.unflatten aten.view_copy aten._unsafe_view_copy".split()
)
_SPLITS = frozenset("aten.split aten.split_with_sizes aten.chunk aten.tensor_split".split())


def _source_of(node: fx.Node) -> fx.Node | None:
    """The tensor a structural op reads, when its axes can be followed back."""
    if node.op != "call_function" or not node.args or not isinstance(node.args[0], fx.Node):
        return None
    name = op_name(node)
    if name == "operator.getitem":
        source = node.args[0]
        if op_name(source) in _SPLITS | {"aten.unbind"} and isinstance(source.args[0], fx.Node):
            return source.args[0]
        return None
    followed = _IDENTITY | _RESHAPES | TRANSPOSE_OPS | {
        "aten.unsqueeze", "aten.squeeze", "aten.expand", "aten.expand_as", "aten.select",
        "aten.broadcast_to", "aten.unsqueeze_copy", "aten.squeeze_copy", "aten.expand_copy",
        "aten.select_copy",
    }  # fmt: skip
    return node.args[0] if name in followed else None


def _axis_back(node: fx.Node, axis: int) -> tuple[fx.Node, int | None] | None:
    """One step back: the operand and axis that ``axis`` of ``node`` comes from; ``None``
    when ``node`` is not a structural op whose axes can be followed (it is the source)."""
    source = _source_of(node)
    if source is None:
        return None
    name = op_name(node)
    in_ndim, out_ndim = _ndim(source), _ndim(node)
    if in_ndim is None or out_ndim is None:
        return None
    if name == "operator.getitem":
        split = node.args[0]
        if op_name(split) == "aten.unbind":
            dim = _dim(split, "dim", 1, 0) % in_ndim
            return source, axis if axis < dim else axis + 1
        return source, axis
    if name in _IDENTITY:
        return source, axis
    if name in TRANSPOSE_OPS:
        return source, _permuted(node, axis, in_ndim)
    if name in ("aten.unsqueeze", "aten.unsqueeze_copy"):
        dim = _dim(node, "dim", 1, 0) % out_ndim
        return source, None if axis == dim else (axis if axis < dim else axis - 1)
    if name in ("aten.select", "aten.select_copy"):
        dim = _dim(node, "dim", 1, 0) % in_ndim
        return source, axis if axis < dim else axis + 1
    if name in ("aten.expand", "aten.expand_as", "aten.broadcast_to", "aten.expand_copy"):
        new = out_ndim - in_ndim
        return source, axis - new if axis >= new else None
    return source, _reshaped(source, node, axis)


def _permuted(node: fx.Node, axis: int, ndim: int) -> int | None:
    name = op_name(node)
    order = list(range(ndim))
    if name in ("aten.permute", "aten.permute_copy"):
        dims = argument(node, 1) or argument_named(node, "dims")
        order = [d % ndim for d in dims] if isinstance(dims, (list, tuple)) else order
    elif name in ("aten.movedim", "aten.moveaxis"):
        sources, targets = argument(node, 1), argument(node, 2)
        sources = list(sources) if isinstance(sources, (list, tuple)) else [sources]
        targets = list(targets) if isinstance(targets, (list, tuple)) else [targets]
        sources, targets = [s % ndim for s in sources], [t % ndim for t in targets]
        rest = [d for d in range(ndim) if d not in sources]
        order = [0] * ndim
        for s, t in zip(sources, targets, strict=True):
            order[t] = s
        free = iter(rest)
        order = [order[i] if i in targets else next(free) for i in range(ndim)]
    elif ndim >= 2:
        if name in ("aten.t", "aten.t_", "aten.t_copy", "aten.numpy_T") and ndim == 2:
            first, second = 0, 1
        elif name in ("aten.mT", "aten.adjoint", "aten.matrix_H"):
            first, second = ndim - 2, ndim - 1
        else:
            first, second = _dim(node, "dim0", 1, 0) % ndim, _dim(node, "dim1", 2, 1) % ndim
        order[first], order[second] = order[second], order[first]
    return order[axis] if axis < len(order) else None


def _reshaped(source: fx.Node, node: fx.Node, axis: int) -> int | None:
    """The input axis an output axis of a reshape comes from: axes are grouped where
    the running products of sizes meet; a split axis comes from the axis it splits, a
    merged axis from the innermost axis merged into it."""
    before, after = _shape(source), _shape(node)
    if before is None or after is None:
        return None
    groups_in, groups_out = _groups(before, after)
    for ins, outs in zip(groups_in, groups_out, strict=True):
        if axis in outs:
            real = [i for i in ins if before[i] != 1] or ins
            return real[-1] if real else None
    return None


def _groups(before: list[int], after: list[int]) -> tuple[list[list[int]], list[list[int]]]:
    groups_in: list[list[int]] = []
    groups_out: list[list[int]] = []
    i = j = 0
    while i < len(before) or j < len(after):
        ins, outs = [], []
        size_in = size_out = 1
        while True:
            if size_in <= size_out and i < len(before):
                size_in *= before[i]
                ins.append(i)
                i += 1
            elif j < len(after):
                size_out *= after[j]
                outs.append(j)
                j += 1
            else:
                break
            if (
                size_in == size_out
                and (i == len(before) or before[i] != 1)
                and (j == len(after) or after[j] != 1)
            ):
                break
        groups_in.append(ins)
        groups_out.append(outs)
    return groups_in, groups_out


def _shape(node: fx.Node) -> list[int] | None:
    shape, _ = value_meta(node)
    if shape is None or not all(isinstance(s, int) for s in shape):
        return None
    return list(shape)


def _ndim(value: object) -> int | None:
    if not isinstance(value, fx.Node):
        return None
    shape, _ = value_meta(value)
    return None if shape is None else len(shape)


def _dim(node: fx.Node, name: str, position: int, default: int) -> int:
    value = argument_named(node, name)
    if value is None and position < len(node.args):
        value = node.args[position]
    return value if isinstance(value, int) else default
