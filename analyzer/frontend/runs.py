"""Whether a model runs on its example inputs: no verdict for a forward that fails.

``torch.export`` and fx trace with fake tensors, whose shape rules are looser than eager
torch's kernels: ``linear`` on ``int64`` inputs with ``float32`` weights traces, and the
graph then describes a computation that does not run. A model whose tensors are all
materialised (none on the ``meta`` device) is therefore run once on a copy of its example
inputs after a symbolic frontend traced it; a meta model (a 70B built without weights)
cannot run and is checked only by the fake propagation of tracing. The ``real`` frontend
ran the model already.

>>> import torch
>>> check_forward_runs(torch.nn.Linear(3, 2), (torch.randn(1, 3),), {}, "linear")
>>> try:
...     check_forward_runs(torch.nn.Linear(3, 2), (torch.ones(1, 3, dtype=torch.long),), {}, "m")
... except TraceError as error:
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

from analyzer.errors import TraceError


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
    """Run ``module`` once on a copy of its inputs (random generators left as they were);
    raise :class:`~analyzer.errors.TraceError` with the model's own error if it fails.
    Does nothing for a model that is not :func:`materialised`."""
    if not materialised(module, example_args, example_kwargs):
        return
    args, kwargs = copy.deepcopy((tuple(example_args), dict(example_kwargs)))
    try:
        with torch.random.fork_rng(devices=_cuda_devices(args, kwargs, module)):
            module(*args, **kwargs)
    except Exception as error:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        said = " ".join(lines[:3])[:600] or repr(error)
        raise TraceError(
            f"{model} fails on its example inputs ({type(error).__name__}: {said}), so "
            "no verdict is given: a graph traced from inputs the model cannot run describes "
            "a computation that never happens. Check the inputs' dtypes and shapes "
            "(--input, --kwarg) against what the model expects."
        ) from error


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _cuda_devices(args: Any, kwargs: Any, module: Any) -> list[int]:
    """The CUDA devices the run touches (fork_rng restores their generators too)."""
    tensors = [v for v in pytree.tree_leaves((args, kwargs)) if _is_tensor(v)]
    if isinstance(module, nn.Module):
        tensors += list(module.parameters())
    return sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
