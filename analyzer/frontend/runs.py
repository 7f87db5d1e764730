"""Whether a model runs on its example inputs: no verdict for a forward that fails.

``torch.export`` and fx trace with fake tensors, whose shape rules are looser than eager
torch's kernels: ``linear`` on ``int64`` inputs with ``float32`` weights traces, and the
graph then describes a computation that does not run. A model whose tensors are all
materialised (none on the ``meta`` device) is therefore run once on a copy of its example
inputs before it is traced (without autograd first, and left as it was: see
:func:`check_forward_runs`); before, because export may replace the module's Python
attributes with equal copies. A meta model (a 70B built without weights) cannot run and
is checked only by the fake propagation of tracing. A trace asked of the ``real``
frontend alone runs the model anyway.

>>> import torch
>>> check_forward_runs(torch.nn.Linear(3, 2), (torch.randn(1, 3),), {}, "linear")
>>> try:
...     check_forward_runs(torch.nn.Linear(3, 2), (torch.ones(1, 3, dtype=torch.long),), {}, "m")
... except ForwardError as error:
...     print(str(error)[:63])
m fails on its example inputs (RuntimeError: mat1 and mat2 must
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

from analyzer.errors import ForwardError


def materialised(module: Any, example_args: Sequence[Any], example_kwargs: dict[str, Any]) -> bool:
    """Whether every tensor of the model (parameters, buffers) and of its inputs has values:
    none is on the ``meta`` device, none is a fake tensor."""
    tensors = [v for v in pytree.tree_leaves((example_args, example_kwargs)) if _is_tensor(v)]
    if isinstance(module, nn.Module):
        tensors += [*module.parameters(), *module.buffers()]
    return all(not t.is_meta and type(t).__name__ != "FakeTensor" for t in tensors)


def check_forward_runs(
    module: Any, example_args: Sequence[Any], example_kwargs: dict[str, Any], model: str
) -> None:
    """Run ``module`` once on a copy of its inputs and leave it as it was (random
    generators, and parameters and buffers the forward wrote into); raise
    :class:`~analyzer.errors.ForwardError` (a ``TraceError``) with the model's own error
    if it fails. Does nothing for a model that is not :func:`materialised`, nor for one
    whose parameters and buffers exceed :data:`SNAPSHOT_BYTES` (a copy of them is what
    makes the run harmless)."""
    if not materialised(module, example_args, example_kwargs):
        return
    state = _snapshot(module)
    if state is None:
        return
    try:
        _run(module, example_args, example_kwargs)
    except Exception as error:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        said = " ".join(lines[:3])[:600] or repr(error)
        raise ForwardError(
            f"{model} fails on its example inputs ({type(error).__name__}: {said}), so "
            "no verdict is given: a graph traced from inputs the model cannot run describes "
            "a computation that never happens. Check the inputs' dtypes and shapes "
            "(--input, --kwarg) against what the model expects."
        ) from error
    finally:
        _restore(state)


SNAPSHOT_BYTES = 2**31
"""The most parameter and buffer bytes copied to run a model harmlessly (2 GiB)."""


def _run(module: Any, example_args: Sequence[Any], example_kwargs: dict[str, Any]) -> None:
    """One forward without autograd; again with it if that fails (a forward that
    differentiates inside), the second error being the model's."""
    for grad in (False, True):
        args, kwargs = copy.deepcopy((tuple(example_args), dict(example_kwargs)))
        devices = _cuda_devices(args, kwargs, module)
        try:
            with torch.random.fork_rng(devices=devices), torch.set_grad_enabled(grad):
                module(*args, **kwargs)
            return
        except Exception:
            if grad:
                raise


_State = list[tuple[torch.Tensor, torch.Tensor, int, bool]]


def _snapshot(module: Any) -> _State | None:
    """A copy of every parameter and buffer with its version counter and grad flag;
    ``None`` when they are too large to copy."""
    if not isinstance(module, nn.Module):
        return []
    tensors = list(dict.fromkeys([*module.parameters(), *module.buffers()]))
    if sum(t.numel() * t.element_size() for t in tensors) > SNAPSHOT_BYTES:
        return None
    return [(t, t.detach().clone(), t._version, t.requires_grad) for t in tensors]


def _restore(state: _State) -> None:
    """Put back what the run wrote (a tensor whose version counter moved)."""
    with torch.no_grad():
        for tensor, saved, version, grad in state:
            if tensor._version != version:
                tensor.copy_(saved)
            if tensor.requires_grad != grad and tensor.is_leaf:
                tensor.requires_grad_(grad)


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _cuda_devices(args: Any, kwargs: Any, module: Any) -> list[int]:
    """The CUDA devices the run touches (fork_rng restores their generators too)."""
    tensors = [v for v in pytree.tree_leaves((args, kwargs)) if _is_tensor(v)]
    if isinstance(module, nn.Module):
        tensors += list(module.parameters())
    return sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
