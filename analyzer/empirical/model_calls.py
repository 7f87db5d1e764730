"""Calls in a graph that are not aten ops, run as the model ran them: the levels of a
``torch.func.vmap`` inside the model, and a functionalized call of an op that writes its
arguments (``auto_functionalized``). :mod:`analyzer.empirical.execute` hands them here.

>>> levels: list[int] = []
>>> model_vmap("_unwrap_for_grad", ("x",), levels)  # a grad level the trace never opened
'x'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def model_vmap(name: str, args: tuple[Any, ...], levels: list[int]) -> Any:
    """One call of a ``torch.func.vmap`` inside the model, traced as level-numbered calls:
    its levels are renumbered above the ones validate's own transforms occupy (``levels``,
    the actual levels opened so far, grows and shrinks with the model's). Raises
    ``ValueError`` for a level never opened, ``NotImplementedError`` for another transform.
    """
    import torch._functorch.predispatch as predispatch

    if name == "lazy_load_decompositions":
        return predispatch.lazy_load_decompositions()
    if name == "_vmap_increment_nesting":
        levels.append(predispatch._vmap_increment_nesting(*args))
        return levels[-1]
    if name == "_vmap_decrement_nesting":
        levels.pop()
        return predispatch._vmap_decrement_nesting()
    if name == "_unwrap_for_grad" and not levels:
        return args[0]  # a grad level the trace never opened: nothing to unwrap
    if name in ("_add_batch_dim", "_remove_batch_dim"):
        level = args[2] if name == "_add_batch_dim" else args[1]
        if not isinstance(level, int) or not 1 <= level <= len(levels):
            raise ValueError(f"vmap level {level} was never opened")
        actual = levels[level - 1]
        if name == "_add_batch_dim":
            return predispatch._add_batch_dim(args[0], args[1], actual)
        return predispatch._remove_batch_dim(args[0], actual, *args[2:])
    raise NotImplementedError(f"{name}: a functorch transform inside the model")


def functionalized(name: str, op: Any) -> Callable[..., Any]:
    """``auto_functionalized(_v2)(op, **kwargs)`` as a function of ``kwargs``: ``op`` on
    copies of the tensors it writes, returning its outputs and the written copies, by
    torch's own dense implementation."""
    from torch._higher_order_ops import auto_functionalize

    dense = (
        auto_functionalize.auto_functionalized_v2_dense
        if name == "auto_functionalized_v2"
        else auto_functionalize.auto_functionalized_dense
    )

    def run(**arguments: Any) -> Any:
        return dense(op, **arguments)

    return run
