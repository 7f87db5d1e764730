"""Values that leave torch while a make_fx frontend records the model.

A forward that reads a tensor into Python or numpy (``.numpy()``, ``.tolist()``,
``np.asarray``, ``repr``) and builds a tensor from what it read leaves no edge in the
recorded graph: the new tensor is a lifted constant (``_tensor_constant0``) and the read
leaves no node. A forward that writes values from outside torch (``Tensor.apply_``,
``map_``, a write through a numpy view) leaves no node at all. :class:`EscapeRecorder`
watches the recording (a ``TorchFunctionMode``: the public hook through which every
tensor method is called) and records each read in the graph as a call of
``analyzer.left_torch(value, how)``, an op the registry does not know (so the passes give
it the worst case, continuous and of unbounded degree) and whose result is a copy of
``value``:

* a read leaves an unused ``left_torch`` node: the passes treat numbers and fresh
  constants after it as functions of what it read (:mod:`analyzer.passes.escapes`);
* a write (``apply_``, ``map_``, a numpy view of a tensor written between two torch
  calls) cannot be recorded: the recording stops with a
  :class:`~analyzer.errors.TraceError` that names it.

>>> import torch
>>> from torch.fx.experimental.proxy_tensor import make_fx
>>> recorder = EscapeRecorder()
>>> def forward(x):
...     return x * torch.tensor(x.tolist())
>>> with recorder:
...     graph = make_fx(forward, tracing_mode="real")(torch.ones(2)).graph
>>> recorder.escapes[0].how, LEFT_TORCH in {str(n.target) for n in graph.nodes}
('tolist', True)
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from analyzer.errors import TraceError

LEFT_TORCH = "analyzer.left_torch.default"
READ_OPS = frozenset({"aten.item", "aten._local_scalar_dense", "analyzer.left_torch"})
"""The ops of a recorded graph that read values out of it (by ``op_name``)."""


@torch.library.custom_op("analyzer::left_torch", mutates_args=())
def left_torch(value: torch.Tensor, how: str) -> torch.Tensor:
    """A copy of ``value``: marks in a recorded graph that ``value`` left torch (``how``)."""
    return value.clone()


@left_torch.register_fake
def _left_torch_fake(value: torch.Tensor, how: str) -> torch.Tensor:
    return torch.empty_like(value)


READS = frozenset(
    "numpy tolist __array__ __repr__ __str__ __format__ untyped_storage storage "
    "_typed_storage __reduce_ex__ __dlpack__".split()
)
"""Tensor methods that hand a tensor's values (or its memory) to Python. ``item`` and the
number conversions are not here: the recorded graph already holds their read
(``_local_scalar_dense``)."""
WRITES = frozenset({"apply_", "map_", "map2_"})
"""Tensor methods that write values computed by Python into a tensor."""
NUMPY_WRITE = "numpy write"
_EXPOSING = frozenset({"numpy", "__array__"})  # results that share the tensor's memory


@dataclass(frozen=True)
class Escape:
    """One value that left torch: ``how`` (the method) and ``where`` (the user's line)."""

    how: str
    where: str

    def describe(self) -> str:
        """``values read by Tensor.numpy at model.py:12`` and the like."""
        if self.how == NUMPY_WRITE:
            said = "values written through a numpy view"
        else:
            verb = "written by" if self.how in WRITES else "read by"
            said = f"values {verb} Tensor.{self.how}"
        return said + (f" at {self.where}" if self.where else "")


class EscapeRecorder(TorchFunctionMode):
    """Records every escape of a recording in the graph (see the module doc) and in
    :attr:`escapes`, and refuses writes. Use it around the make_fx call; call :meth:`flush`
    at the end of the traced function so that a write through numpy after the last torch
    call is seen."""

    def __init__(self) -> None:
        super().__init__()
        self.escapes: list[Escape] = []
        self._exposed: list[tuple[torch.Tensor, np.ndarray, np.ndarray]] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self._check_exposed()
        name = getattr(func, "__name__", "")
        tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if tensor is not None and name in WRITES:
            self._refuse(Escape(name, _user_line()))
        result = func(*args, **(kwargs or {}))
        if tensor is not None and name in READS and not _called_by_torch():
            self._record(tensor, name)
            if name in _EXPOSING and isinstance(result, np.ndarray) and result.flags.writeable:
                self._exposed.append((tensor, result, result.copy()))
        self._resnapshot()
        return result

    def flush(self) -> None:
        """Refuse a write through numpy made since the last torch call."""
        self._check_exposed()

    def _record(self, tensor: torch.Tensor, how: str) -> None:
        self.escapes.append(Escape(how, _user_line()))
        torch.ops.analyzer.left_torch(tensor.detach(), how)

    def _refuse(self, escape: Escape) -> None:
        """A write from outside torch: no recording can say where its values come from."""
        self._exposed = []
        raise TraceError(
            f"the forward writes into a tensor from outside torch ({escape.describe()}): "
            "the values written come from Python, so no recording of the model can follow "
            "them; write them with torch operations instead"
        )

    def _check_exposed(self) -> None:
        if any(
            not np.array_equal(array, snapshot, equal_nan=True)
            for _, array, snapshot in self._exposed
        ):
            self._refuse(Escape(NUMPY_WRITE, _user_line()))

    def _resnapshot(self) -> None:
        self._exposed = [(t, a, a.copy()) for t, a, _ in self._exposed]


def _called_by_torch() -> bool:
    """Whether the read being handled was made by torch's own tracing machinery (fake-tensor
    conversion reads ``untyped_storage`` while make_fx records), not by the model: a frame
    of ``torch/_subclasses`` (fake and meta tensors) lies between this mode and the first
    caller outside torch."""
    torch_folder = os.path.dirname(torch.__file__)
    internal = os.path.join(torch_folder, "_subclasses")
    frame = sys._getframe(2)  # above __torch_function__
    while frame is not None and frame.f_code.co_filename.startswith(torch_folder):
        if frame.f_code.co_filename.startswith(internal):
            return True
        frame = frame.f_back
    return False


def _user_line() -> str:
    """``file:line`` of the innermost frame outside torch, numpy and this package."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    skipped = (os.path.dirname(torch.__file__), os.path.dirname(np.__file__), package)
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(skipped) and not frame.filename.startswith("<"):
            return f"{os.path.basename(frame.filename)}:{frame.lineno}"
    return ""
