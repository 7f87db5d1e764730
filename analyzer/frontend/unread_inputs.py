"""Inputs a traced graph never reads although the model's output depends on them.

Every frontend meets the model through ``__torch_function__`` (export's non-strict mode,
fx's proxies, the real frontend's escape mode), and a PyTorch function may drop an
argument on that path: ``F.l1_loss(x, t, weight=w)`` re-dispatches without ``weight``
(PyTorch 2.13), so each frontend records ``|x − t|`` and leaves ``w`` unread — a graph of
another function, on which the analysis would publish "piecewise affine, no site" for
``w·|x − t|`` (and ``chain_matmul(x, y, out=z)`` loses its ``out=``: the graph returns the
zeros of ``z``). A floating input that the outputs are not computed from is therefore
moved, and the model run again (same random seed): if its output changes, the graph is
not the model's and no verdict is given. Only materialised models are run
(:func:`~analyzer.frontend.runs.materialised`); a model with no unread input costs nothing.

>>> import torch
>>> import torch.nn.functional as F
>>> from analyzer.frontend.tracing import trace
>>> class Weighted(torch.nn.Module):
...     def forward(self, x, w):
...         return F.l1_loss(x, torch.zeros(3), weight=w, reduction="none")
>>> try:
...     trace(Weighted(), (torch.randn(3), torch.randn(3)))
... except Exception as error:
...     print(str(error)[:68])
model's output depends on input 'w', which the traced graph never re
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.fx as fx
from torch.utils import _pytree as pytree

from analyzer.errors import TraceError
from analyzer.frontend.dialect import InputKind, TracedModel
from analyzer.frontend.escaping import reads_values
from analyzer.frontend.runs import _cuda_devices, _restore, _snapshot, materialised


def check_unread_inputs(
    traced: TracedModel,
    module: Any,
    example_args: Sequence[Any],
    example_kwargs: dict[str, Any],
    model: str,
) -> None:
    """Raise :class:`~analyzer.errors.TraceError` when a floating input that the outputs
    of ``traced`` are not computed from changes the output of ``module`` (run on copies of
    the inputs, the module left as it was)."""
    leaves, spec = pytree.tree_flatten((tuple(example_args), dict(example_kwargs)))
    positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
    inputs = [
        n for n in traced.graph.nodes
        if n.op == "placeholder" and traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    if len(inputs) != len(positions):  # the graph's inputs are not the leaves: no map
        return
    read = _read_by_the_outputs(traced)
    read_leaves = {i for node, i in zip(inputs, positions, strict=True) if node in read}
    unread = [
        (node.name, i) for node, i in zip(inputs, positions, strict=True)
        if node not in read and leaves[i].is_floating_point() and leaves[i].numel() > 0
        and not read_leaves & set(_aliases(leaves, i))
    ]  # fmt: skip
    if not unread or not materialised(module, example_args, example_kwargs):
        return
    state = _snapshot(module)
    if state is None:
        return
    try:
        for name, i in unread:
            if _output_moves(module, leaves, spec, i):
                raise TraceError(
                    f"{model}'s output depends on input {name!r}, which the traced graph "
                    f"never reads ({traced.frontend} frontend): the graph computes another "
                    "function, so no verdict is given. PyTorch drops some arguments when a "
                    "function is traced through __torch_function__ (F.l1_loss's weight=, "
                    "chain_matmul's out=); spell the computation out with torch operations "
                    "(w * (x - t).abs()) or use the result instead of out=."
                )
    finally:
        _restore(state)


def _read_by_the_outputs(traced: TracedModel) -> set[fx.Node]:
    """The nodes the outputs are computed from, and those of every node that may act
    otherwise than through its result (a read into Python that the analysis follows as an
    escape, a write into an argument, a call that is not an aten op): a pure op whose
    result nothing uses (``chain_matmul(x, y)`` left behind when its ``out=`` was dropped)
    reads nothing."""
    roots = [n for n in traced.graph.nodes if n.op == "output" or _may_act_aside(n)]
    seen: set[fx.Node] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.all_input_nodes)
    return seen


def _may_act_aside(node: fx.Node) -> bool:
    if reads_values(node):  # a value read out of the graph (item, numpy): an escape
        return True
    if node.op != "call_function":
        return node.op not in ("placeholder", "get_attr")
    schema = getattr(node.target, "_schema", None)
    if schema is None:
        return True
    return schema.is_mutable or any(
        a.alias_info is not None and a.alias_info.is_write for a in schema.arguments
    )


def _output_moves(module: Any, leaves: list[Any], spec: Any, position: int) -> bool:
    """Whether moving the input at ``position`` changes the model's output (both runs from
    the same random seed; a run that fails tells nothing)."""
    moved = list(leaves)
    shifted = leaves[position] * 1.5 + 0.25
    for alias in _aliases(leaves, position):
        moved[alias] = shifted
    try:
        before, after = _outputs(module, leaves, spec), _outputs(module, moved, spec)
    except Exception:
        return False
    if len(before) != len(after):
        return True
    return any(not _same(a, b) for a, b in zip(before, after, strict=True))


def _aliases(leaves: list[Any], position: int) -> list[int]:
    """The positions holding the very tensor at ``position`` (itself included): a model
    may branch on ``query is key``, as ``nn.MultiheadAttention`` does, so one tensor passed
    twice is one input, read when either place is, and moved in both."""
    return [j for j, leaf in enumerate(leaves) if leaf is leaves[position]]


def _outputs(module: Any, leaves: list[Any], spec: Any) -> list[Any]:
    copies: dict[int, Any] = {}  # one copy per tensor: the copies alias as the inputs do
    leaves = [copies.setdefault(id(leaf), _copy(leaf)) for leaf in leaves]
    args, kwargs = pytree.tree_unflatten(leaves, spec)
    with torch.random.fork_rng(devices=_cuda_devices(args, kwargs, module)), torch.no_grad():
        torch.manual_seed(0)
        return pytree.tree_leaves(module(*args, **kwargs))


def _copy(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def _same(a: Any, b: Any) -> bool:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        try:
            return type(a) is type(b) and bool(a == b)
        except Exception:  # a value that does not compare: no evidence of a change
            return True
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not (a.is_floating_point() or a.is_complex()):
        return bool(torch.equal(a, b))
    return bool(torch.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True))
