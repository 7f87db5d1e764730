"""Values as the empirical backend handles them: float64 copies, retargeted arguments, the
tensors a node computes.

>>> import torch
>>> float64_copy(torch.ones(2), torch.device("cpu")).dtype
torch.float64
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx as fx
import torch.utils._pytree as pytree

from analyzer.errors import TraceError


class ExecutionError(TraceError):
    """The traced graph could not be run or differentiated (exit code 3)."""


def float64_copy(value: Any, device: torch.device) -> Any:
    """A float64 (complex128) copy on ``device``; other tensors only move."""
    if not isinstance(value, torch.Tensor):
        return value
    if torch._subclasses.fake_tensor.is_fake(value):
        raise ExecutionError(
            "the trace kept a value without data (a FakeTensor) as a weight or constant: the "
            "traced graph cannot be run, so its claims cannot be checked"
        )
    if value.is_meta:
        raise ExecutionError(
            "a weight or input is on the meta device: build the model on a real device "
            "(validate does this for meta-built models it is handed directly)"
        )
    # copy=True: a float64 tensor already on the device must not be shared with the
    # caller, since a graph may write into its buffers (batch-norm statistics)
    if value.is_complex():
        return value.detach().to(device=device, dtype=torch.complex128, copy=True)
    if value.is_floating_point():
        return value.detach().to(device=device, dtype=torch.float64, copy=True)
    return value.detach().to(device=device, copy=True)


def float64_dtype(item: Any) -> Any:
    """A float dtype as float64 (a complex one as complex128); anything else as it is.

    >>> float64_dtype(torch.float16), float64_dtype(torch.int32)
    (torch.float64, torch.int32)
    """
    if isinstance(item, torch.dtype) and item.is_complex:
        return torch.complex128
    if isinstance(item, torch.dtype) and item.is_floating_point:
        return torch.float64
    return item


def retarget(value: Any, device: torch.device) -> Any:
    """Float dtypes written into the graph become float64; devices become ``device``."""

    def one(item: Any) -> Any:
        return device if isinstance(item, torch.device) else float64_dtype(item)

    return fx.node.map_aggregate(value, one)


def main_tensor(value: Any) -> torch.Tensor | None:
    """The tensor a node computes: itself, or the first of a tuple (a fused norm's output)."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return value if isinstance(value, torch.Tensor) else None


def is_real_valued(value: torch.Tensor) -> bool:
    return value.is_floating_point() or value.is_complex()


def floating_leaves(value: Any) -> tuple[torch.Tensor, ...]:
    leaves = pytree.tree_leaves(value)
    return tuple(t for t in leaves if isinstance(t, torch.Tensor) and is_real_valued(t))
