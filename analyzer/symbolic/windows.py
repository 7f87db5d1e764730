"""Exact rules for the ops that read sliding windows: convolutions, pooling and
cumulative scans.

Every window is first found on a tensor of *entry indices* (``-1`` where the window
reads padding), as :func:`~analyzer.symbolic.tensors.move` does for data movement; the
entries are then combined exactly: a convolution is an einsum of the windows with the
weights (any stride, padding, dilation and groups; a transposed convolution is the
convolution of the stride-dilated input with the flipped kernel), average pooling a sum
times a rational, max pooling a ``Max`` over the window (piecewise linear, a polynomial
only when the window is one entry), ``cumsum`` prefix sums and ``cumprod`` prefix
products.

>>> index = windows(grid((1, 4)), [2], [2], [(0, 0)], [1])
>>> index.tolist()
[[[0, 1], [2, 3]]]
>>> windows(grid((3,)), [3], [1], [(1, 1)], [1]).tolist()
[[-1, 0, 1], [0, 1, 2], [1, 2, -1]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from analyzer.errors import SpecError
from analyzer.frontend.dialect import op_name
from analyzer.symbolic.exact import Entry, Rat, add, divide, mul, total
from analyzer.symbolic.rules import (
    Context,
    Withheld,
    _along,
    _arg,
    _charge_products,
    _exact_or,
    _max,
    _min,
    _plus,
    rule,
)
from analyzer.symbolic.tensors import SymTensor, einsum, grid, lift, move


def _tuple(value: Any, count: int, default: int | None = None) -> list[int]:
    """An int or a list of ints as ``count`` ints (an empty list means ``default``)."""
    if isinstance(value, int):
        return [value] * count
    value = list(value) if value is not None else []
    if not value:
        if default is None:
            raise SpecError("expand: a window op without a size")
        return [default] * count
    return value * count if len(value) == 1 else value


def windows(
    index: torch.Tensor, kernel: Sequence[int], stride: Sequence[int],
    pads: Sequence[tuple[int, int]], dilation: Sequence[int], outs: Sequence[int] | None = None,
) -> torch.Tensor:  # fmt: skip
    """Every window over the last ``len(kernel)`` axes of an index tensor.

    The result has shape ``(*lead, *out, *kernel)``; padding reads ``-1``. ``outs``
    (default: the floor rule) fixes the number of windows per axis, padding the right
    further where ceil-mode pooling needs it.

    >>> windows(grid((5,)), [2], [2], [(0, 0)], [2]).tolist()
    [[0, 2], [2, 4]]
    """
    spatial = len(kernel)
    lead = index.dim() - spatial
    for d in range(spatial):
        axis = lead + d
        length, (left, right) = index.shape[axis], pads[d]
        span = dilation[d] * (kernel[d] - 1) + 1
        out = (length + left + right - span) // stride[d] + 1 if outs is None else outs[d]
        if out < 1:
            raise SpecError(
                f"expand: a window of {kernel[d]} (dilation {dilation[d]}) does not fit an "
                f"axis of {length} with padding {left}+{right}"
            )
        need = (out - 1) * stride[d] + span
        moved = index.movedim(axis, -1)
        moved = F.pad(moved, (left, max(need - length - left, 0)), value=-1)[..., :need]
        index = moved.movedim(-1, axis).unfold(axis, span, stride[d])[..., :: dilation[d]]
    return index


def _entries(tensor: SymTensor, index: torch.Tensor, pad: Entry) -> SymTensor:
    """The entries an index tensor names (``pad`` where it reads ``-1``)."""
    flat = index.reshape(-1).tolist()
    chosen = [pad if i < 0 else tensor.entries[i] for i in flat]
    return SymTensor(tuple(index.shape), chosen, tensor.origins)


def _reshaped(tensor: SymTensor, shape: Sequence[int]) -> SymTensor:
    return SymTensor(tuple(shape), tensor.entries, tensor.origins)


# --- convolutions ----------------------------------------------------------------------


def _same_padding(kernel: Sequence[int], dilation: Sequence[int]) -> list[tuple[int, int]]:
    """``padding="same"``: torch puts the odd extra entry on the right."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return [(t // 2, t - t // 2) for t in totals]


def convolve(
    context: Context, x: Any, weight: Any, bias: Any, stride: Any, padding: Any,
    dilation: Any, groups: int, transposed: bool = False, output_padding: Any = 0,
) -> SymTensor:  # fmt: skip
    """An exact N-d convolution (``weight`` of shape ``(out, in/groups, *kernel)``, or
    ``(in, out/groups, *kernel)`` when ``transposed``), input batched or not."""
    tensor, kernel_tensor = lift(x, context.ring), lift(weight, context.ring)
    spatial = len(kernel_tensor.shape) - 2
    kernel = list(kernel_tensor.shape[2:])
    stride, dilation = _tuple(stride, spatial, 1), _tuple(dilation, spatial, 1)
    batched = len(tensor.shape) == spatial + 2
    shape = tensor.shape if batched else (1, *tensor.shape)
    index = grid(shape)
    if transposed:
        if isinstance(padding, str):
            raise SpecError(f"expand: {context.node.name} pads a transposed convolution by name")
        index = _dilated(index, stride, _tuple(padding, spatial, 0), dilation, kernel,
                         _tuple(output_padding, spatial, 0))  # fmt: skip
        kernel_tensor = _transposed_kernel(context, kernel_tensor, groups)
        stride, pads = [1] * spatial, [(0, 0)] * spatial
    elif padding == "same":
        pads = _same_padding(kernel, dilation)
    elif padding == "valid":
        pads = [(0, 0)] * spatial
    else:
        pads = [(p, p) for p in _tuple(padding, spatial, 0)]
    patches = windows(index, kernel, stride, pads, dilation)
    batch, channels = patches.shape[:2]
    outs = list(patches.shape[2 : 2 + spatial])
    out_channels = kernel_tensor.shape[0]
    if channels % groups or out_channels % groups:
        raise SpecError(f"expand: {context.node.name} has channels that groups do not divide")
    patches = patches.reshape(batch, groups, channels // groups, *outs, *kernel)
    zero = context.const(0)
    letters_out, letters_kernel = "pqr"[:spatial], "klm"[:spatial]
    equation = f"bgc{letters_out}{letters_kernel},goc{letters_kernel}->bgo{letters_out}"
    grouped = _reshaped(kernel_tensor, (groups, out_channels // groups, *kernel_tensor.shape[1:]))
    out = einsum(equation, [_entries(tensor, patches, zero), grouped], context.ring, context.budget)
    out = _reshaped(out, (batch, out_channels, *outs))
    if bias is not None:
        column = _reshaped(lift(bias, context.ring), (out_channels, *([1] * spatial)))
        out = _plus(context, out, column)
    return out if batched else _reshaped(out, out.shape[1:])


def _dilated(
    index: torch.Tensor, stride: list[int], padding: list[int], dilation: list[int],
    kernel: list[int], output_padding: list[int],
) -> torch.Tensor:  # fmt: skip
    """The input of a transposed convolution as the stride-1 convolution sees it: entries
    ``stride`` apart, ``dilation·(k−1) − padding`` of padding each side (plus
    ``output_padding`` on the right)."""
    lead = index.dim() - len(kernel)
    for d in range(len(kernel)):
        axis, length = lead + d, index.shape[lead + d]
        reach = dilation[d] * (kernel[d] - 1)
        full = (length - 1) * stride[d] + 1 + 2 * reach + output_padding[d]
        moved = index.movedim(axis, -1)
        spread = torch.full((*moved.shape[:-1], full), -1, dtype=torch.int64)
        spread[..., reach : reach + (length - 1) * stride[d] + 1 : stride[d]] = moved
        kept = full - 2 * padding[d]
        if kept < reach + 1:
            raise SpecError("expand: a transposed convolution pads away its whole output")
        index = spread[..., padding[d] : padding[d] + kept].movedim(-1, axis)
    return index


def _transposed_kernel(context: Context, kernel: SymTensor, groups: int) -> SymTensor:
    """``(in, out/g, *k)`` flipped and regrouped as ``(out, in/g, *k)``."""
    size_in, out_per_group, *rest = kernel.shape
    axes = list(range(2, 2 + len(rest)))

    def regroup(t: torch.Tensor) -> torch.Tensor:
        t = t.flip(axes).reshape(groups, size_in // groups, out_per_group, *rest)
        return t.transpose(1, 2).reshape(groups * out_per_group, size_in // groups, *rest)

    return move(regroup, (kernel,), {}, context.ring)


@rule("aten.convolution", "aten._convolution")
def _convolution(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    return convolve(context, x, weight, bias, stride, padding, dilation, groups,
                    bool(transposed), output_padding)  # fmt: skip


@rule("aten.conv1d", "aten.conv2d", "aten.conv3d")
def _conv(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    get = lambda i, name, default: _arg(args, kwargs, i, name, default)  # noqa: E731
    return convolve(
        context, args[0], args[1], get(2, "bias", None), get(3, "stride", 1),
        get(4, "padding", 0), get(5, "dilation", 1), get(6, "groups", 1),
    )  # fmt: skip


@rule("aten.conv_transpose1d", "aten.conv_transpose2d", "aten.conv_transpose3d")
def _conv_transpose(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    get = lambda i, name, default: _arg(args, kwargs, i, name, default)  # noqa: E731
    return convolve(
        context, args[0], args[1], get(2, "bias", None), get(3, "stride", 1),
        get(4, "padding", 0), get(7, "dilation", 1), get(6, "groups", 1), True,
        get(5, "output_padding", 0),
    )  # fmt: skip


# --- pooling ---------------------------------------------------------------------------


def _spatial(name: str) -> int:
    return int(name.rstrip("d")[-1])


def _pool_out(length: int, k: int, s: int, p: int, dilation: int, ceil: bool) -> int:
    """torch's ``pooling_output_shape``: in ceil mode the last window must start
    inside the input or its left padding."""
    span = dilation * (k - 1) + 1
    out = -(-(length + 2 * p - span) // s) + 1 if ceil else (length + 2 * p - span) // s + 1
    if ceil and (out - 1) * s >= length + p:
        out -= 1
    return out


def _pool_windows(
    tensor: SymTensor, spatial: int, kernel: Any, stride: Any, padding: Any, dilation: Any,
    ceil: bool,
) -> tuple[torch.Tensor, list[int], list[int], list[int]]:  # fmt: skip
    kernel = _tuple(kernel, spatial)
    stride = _tuple(stride, spatial, None) if stride not in (None, []) else kernel
    padding, dilation = _tuple(padding, spatial, 0), _tuple(dilation, spatial, 1)
    lengths = tensor.shape[-spatial:]
    outs = [
        _pool_out(n, k, s, p, d, ceil)
        for n, k, s, p, d in zip(lengths, kernel, stride, padding, dilation, strict=True)
    ]
    pads = [(p, p) for p in padding]
    index = windows(grid(tensor.shape), kernel, stride, pads, dilation, outs)
    return index, kernel, stride, padding


def _combine(tensor: SymTensor, index: torch.Tensor, window_axes: int,
             function: Callable[[list[Entry], int], Entry]) -> SymTensor:  # fmt: skip
    """``function(entries, position)`` of every window's real entries (padding dropped)."""
    shape = tuple(index.shape[: index.dim() - window_axes])
    rows = index.reshape(math.prod(shape), -1).tolist()
    entries = [
        function([tensor.entries[i] for i in row if i >= 0], position)
        for position, row in enumerate(rows)
    ]
    return SymTensor(shape, entries, tensor.origins)


def _maximum(context: Context, items: list[Entry], largest: bool = True) -> Entry:
    if len(items) == 1:
        return items[0]
    return _exact_or(_max if largest else _min, context)(*items)


@rule("aten.max_pool1d", "aten.max_pool2d", "aten.max_pool3d", "aten.max_pool1d_with_indices",
      "aten.max_pool2d_with_indices", "aten.max_pool3d_with_indices")  # fmt: skip
def _max_pool(context: Context, args: tuple, kwargs: dict) -> Any:
    name = op_name(context.node)
    spatial = _spatial(name.replace("_with_indices", ""))
    tensor = lift(args[0], context.ring)
    get = lambda i, key, default: _arg(args, kwargs, i, key, default)  # noqa: E731
    index, *_ = _pool_windows(tensor, spatial, get(1, "kernel_size", None), get(2, "stride", None),
                              get(3, "padding", 0), get(4, "dilation", 1),
                              bool(get(5, "ceil_mode", False)))  # fmt: skip
    out = _combine(tensor, index, spatial, lambda items, _: _maximum(context, items))
    if name.endswith("_with_indices"):
        return out, _indices(context)
    return out


def _indices(context: Context) -> Withheld:
    return Withheld(
        f"{context.node.name} ({op_name(context.node)}) returns the positions of maxima, "
        "which depend on the input's values (a selection, not a polynomial)"
    )


@rule("aten.avg_pool1d", "aten.avg_pool2d", "aten.avg_pool3d")
def _avg_pool(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    spatial = _spatial(op_name(context.node))
    tensor = lift(args[0], context.ring)
    get = lambda i, key, default: _arg(args, kwargs, i, key, default)  # noqa: E731
    ceil, include_pad = bool(get(4, "ceil_mode", False)), bool(get(5, "count_include_pad", True))
    override = get(6, "divisor_override", None)
    index, kernel, stride, padding = _pool_windows(
        tensor, spatial, get(1, "kernel_size", None), get(2, "stride", None),
        get(3, "padding", 0), 1, ceil,
    )  # fmt: skip
    lengths = tensor.shape[-spatial:]
    outs = index.shape[index.dim() - 2 * spatial : index.dim() - spatial]

    def divisor(position: int) -> int:
        if override:
            return int(override)
        count, rest = 1, position
        for d in reversed(range(spatial)):
            rest, o = divmod(rest, outs[d])
            start = o * stride[d] - padding[d]
            end = min(start + kernel[d], lengths[d] + padding[d])
            if not include_pad:
                start, end = max(start, 0), min(end, lengths[d])
            count *= end - start
        return count

    return _combine(
        tensor, index, spatial,
        lambda items, p: divide(total(items, context.ring), context.const(divisor(p))),
    )  # fmt: skip


def _adaptive_windows(
    tensor: SymTensor, sizes: Any, spatial: int
) -> tuple[list[list[int]], tuple[int, ...]]:
    """The entry indices each adaptive-pooling output reads: along an axis of ``n``
    into ``m`` outputs, output ``i`` reads ``[⌊i·n/m⌋, ⌈(i+1)·n/m⌉)``."""
    lengths = tensor.shape[-spatial:]
    sizes = [n if m is None else m for m, n in zip(_tuple(sizes, spatial), lengths, strict=True)]
    index = grid(tensor.shape)
    lead = math.prod(tensor.shape[:-spatial])
    flat = index.reshape(lead, *lengths)
    rows = []
    for b in range(lead):
        for position in torch.cartesian_prod(*(torch.arange(m) for m in sizes)).reshape(
            -1, spatial
        ).tolist():  # fmt: skip
            block = flat[b]
            for d, (i, m, n) in enumerate(zip(position, sizes, lengths, strict=True)):
                block = block.narrow(d, i * n // m, -(-(i + 1) * n // m) - i * n // m)
            rows.append(block.reshape(-1).tolist())
    return rows, (*tensor.shape[:-spatial], *sizes)


@rule("aten.adaptive_avg_pool1d", "aten.adaptive_avg_pool2d", "aten.adaptive_avg_pool3d",
      "aten._adaptive_avg_pool2d", "aten._adaptive_avg_pool3d", "aten.adaptive_max_pool1d",
      "aten.adaptive_max_pool2d", "aten.adaptive_max_pool3d")  # fmt: skip
def _adaptive_pool(context: Context, args: tuple, kwargs: dict) -> Any:
    name = op_name(context.node)
    tensor = lift(args[0], context.ring)
    rows, shape = _adaptive_windows(tensor, args[1], _spatial(name))
    picked = [[tensor.entries[i] for i in row] for row in rows]
    if "max" in name:
        out = SymTensor(shape, [_maximum(context, r) for r in picked], tensor.origins)
        return out, _indices(context)
    entries = [divide(total(r, context.ring), context.const(len(r))) for r in picked]
    return SymTensor(shape, entries, tensor.origins)


# --- cumulative scans ------------------------------------------------------------------


def _prefix(items: list[Entry], step: Callable[[Entry, Entry], Entry]) -> list[Entry]:
    out, running = [], None
    for item in items:
        running = item if running is None else step(running, item)
        out.append(running)
    return out


@rule("aten.cumsum", "aten.cumsum_")
def _cumsum(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    return _along(tensor, _arg(args, kwargs, 1, "dim", 0), lambda row: _prefix(row, add))


@rule("aten.cumprod", "aten.cumprod_")
def _cumprod(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    """Prefix products: a polynomial of degree ``k`` at position ``k``."""
    tensor = lift(args[0], context.ring)
    dim = _arg(args, kwargs, 1, "dim", 0)
    widest = max((len(e) for e in tensor.entries if isinstance(e, Rat)), default=1)
    length = tensor.shape[dim] if tensor.shape else 1
    if widest > 1:
        context.budget.charge(tensor.numel * widest ** min(length, 64), context.node.name)
    _charge_products(context, tensor, tensor)
    return _along(tensor, dim, lambda row: _prefix(row, mul))


@rule("aten.cummax", "aten.cummin")
def _cummax(context: Context, args: tuple, kwargs: dict) -> tuple[SymTensor, Withheld]:
    largest = op_name(context.node) == "aten.cummax"
    tensor = lift(args[0], context.ring)
    values = _along(
        tensor, _arg(args, kwargs, 1, "dim", 0),
        lambda row: [_maximum(context, row[: i + 1], largest) for i in range(len(row))],
    )  # fmt: skip
    return values, _indices(context)


# --- max / min over axes -----------------------------------------------------------------


@rule("aten.max", "aten.min")
def _max_min(context: Context, args: tuple, kwargs: dict) -> Any:
    """``max(x)`` is ``Max`` of every entry; ``max(x, other)`` the elementwise ``Max``;
    ``max(x, dim)`` gives the ``Max`` along ``dim`` and withholds the argmax."""
    from analyzer.symbolic.tensors import pointwise, reduce

    largest = op_name(context.node) == "aten.max"
    tensor = lift(args[0], context.ring)
    other = _arg(args, kwargs, 1, "dim", None)
    combine = lambda items: _maximum(context, items, largest)  # noqa: E731
    if other is None:
        return reduce(tensor, None, False, combine)
    if not isinstance(other, int):
        function = _max if largest else _min
        return pointwise(_exact_or(function, context), [tensor, lift(other, context.ring)])
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    return reduce(tensor, [other], keepdim, combine), _indices(context)
