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

Values reach Python by other routes too, each marked the same way: a size that depends on
the values (``len(x[x > 0])``, ``nonzero(x).shape[0]``, ``unique(x).numel()``) read by
Python (:data:`SIZE_READS` of a tensor an op with a data-dependent output shape made), the
address of a tensor's memory (``data_ptr``: whatever reads it, ``ctypes`` for one, reads
the values), a ``Tensor.data`` assignment (the assigned tensor's storage becomes the
target's, out of the recording's sight: the target is no longer the module's own
constant, see :attr:`EscapeRecorder.reassigned`), and a tensor another thread computed from
one of the recording's tensors (torch's modes are thread-local: a thread started while
recording is watched, and each tensor it takes is marked as read where the recording next
runs). Ops whose result is a Python value (``aten.equal``, ``aten.allclose``, ``item``:
PyTorch's tag ``data_dependent_output``) are reads in the graph as they are
(:func:`reads_values`).

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

import functools
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx as fx
from torch.overrides import TorchFunctionMode

from analyzer.errors import TraceError
from analyzer.frontend.dialect import has_tag, op_name

LEFT_TORCH = "analyzer.left_torch.default"
NUMBER_READS = frozenset({"aten.item", "aten._local_scalar_dense", "analyzer.left_torch"})
"""The ops that read numbers (``.item()``, ``float(x)``) or mark a read (``left_torch``)."""
READ_OPS = NUMBER_READS | {"aten.equal", "aten.allclose"}
"""The ops of a recorded graph that read values out of it (by ``op_name``): the number reads
and the ops whose result is a Python bool computed from the values. Any op PyTorch tags
``data_dependent_output`` is one too (:func:`reads_values`)."""


def reads_values(node: fx.Node) -> bool:
    """Whether ``node`` hands values of the graph to Python: an op of :data:`READ_OPS`
    (matched by ``op_name``, so stored traces too) or any op whose result is a Python value
    computed from the tensors' values (PyTorch's tag ``data_dependent_output``).

    >>> g = fx.Graph(); x = g.placeholder("x")
    >>> same = g.call_function(torch.ops.aten.equal.default, (x, x))
    >>> doubled = g.call_function(torch.ops.aten.mul.Tensor, (x, 2))
    >>> reads_values(same), reads_values(doubled)
    (True, False)
    """
    if node.op != "call_function":
        return False
    if isinstance(node.target, torch._ops.OpOverload):
        return _overload_reads(node.target)
    return op_name(node) in READ_OPS  # a stored trace's op, a plain function


@functools.cache
def _overload_reads(target: torch._ops.OpOverload) -> bool:
    named = f"{target.namespace}.{target._opname}" in READ_OPS
    return named or torch.Tag.data_dependent_output in target.tags


@torch.library.custom_op("analyzer::left_torch", mutates_args=())
def left_torch(value: torch.Tensor, how: str) -> torch.Tensor:
    """A copy of ``value``: marks in a recorded graph that ``value`` left torch (``how``)."""
    return value.clone()


@left_torch.register_fake
def _left_torch_fake(value: torch.Tensor, how: str) -> torch.Tensor:
    return torch.empty_like(value)


READS = frozenset(
    "numpy tolist __array__ __repr__ __str__ __format__ untyped_storage storage "
    "_typed_storage __reduce_ex__ __dlpack__ data_ptr".split()
)
"""Tensor methods that hand a tensor's values (or its memory) to Python. ``item`` and the
number conversions are not here: the recorded graph already holds their read
(``_local_scalar_dense``)."""
SIZE_READS = frozenset(
    "shape size __len__ numel nelement stride storage_offset is_contiguous __iter__ unbind split "
    "split_with_sizes unsafe_split chunk unsafe_chunk tensor_split hsplit vsplit dsplit".split()
)
"""Tensor methods (and the ``shape`` attribute) that hand Python a tensor's size or something
computed from it (strides, how many pieces a split gives): a read of values when an op with
a data-dependent output shape made the tensor."""
SIZE_READ = "a size that depends on the values"
DATA_SET = "data="  # ``tensor.data = value``: torch calls it ``Tensor.data.__set__``
THREAD = "another thread"
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
        elif self.how in SIZE_READS:
            said = f"{SIZE_READ}, read by Tensor.{self.how}"
        elif self.how == DATA_SET:
            said = "a tensor assigned to Tensor.data"
        elif self.how == THREAD:
            said = "values taken by another thread (torch records only the calling thread)"
        else:
            verb = "written by" if self.how in WRITES else "read by"
            said = f"values {verb} Tensor.{self.how}"
        return said + (f" at {self.where}" if self.where else "")


class EscapeRecorder(TorchFunctionMode):
    """Records every escape of a recording in the graph (see the module doc) and in
    :attr:`escapes`, and refuses writes. Use it around the make_fx call; call :meth:`flush`
    at the end of the traced function so that a write through numpy after the last torch
    call is seen. :attr:`reassigned` holds the tensors whose ``data`` the forward assigned
    (their storage is the assigned value's: not the module's own)."""

    def __init__(self) -> None:
        super().__init__()
        self.escapes: list[Escape] = []
        self.reassigned: list[torch.Tensor] = []
        self._exposed: list[tuple[torch.Tensor, np.ndarray, np.ndarray]] = []
        self._foreign: list[tuple[torch.Tensor, str]] = []  # taken by other threads
        self._data_sized: dict[fx.Node, bool] = {}
        self._recording = False
        self._profile: Any = None

    def __enter__(self) -> EscapeRecorder:
        self._recording = True
        self._profile = threading.getprofile()
        threading.setprofile(self._watch_thread)
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._recording = False
        threading.setprofile(self._profile)
        super().__exit__(*exc)

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self._check_exposed()
        if self._foreign:
            self._take_foreign()
        name = _method_name(func)
        tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if tensor is not None and name in WRITES:
            self._refuse(Escape(name, _user_line()))
        if tensor is not None and name == DATA_SET and isinstance(args[-1], torch.Tensor):
            self._record(args[-1], name)
            self.reassigned.append(tensor)
        result = func(*args, **(kwargs or {}))
        if tensor is not None and name in READS and not _called_by_torch():
            self._record(tensor, name)
            if name in _EXPOSING and isinstance(result, np.ndarray) and result.flags.writeable:
                self._exposed.append((tensor, result, result.copy()))
        elif tensor is not None and name in SIZE_READS and self._sized_by_data(tensor):
            if not _called_by_torch():
                # a size is a whole number: a discrete function of the values, marked as a
                # read of a comparison of them (not of the values themselves)
                self._record(tensor.detach() != tensor.detach(), name)
        self._resnapshot()
        return result

    def flush(self) -> None:
        """Refuse a write through numpy made since the last torch call; mark what other
        threads took since then."""
        self._check_exposed()
        self._take_foreign()

    def _record(self, tensor: torch.Tensor, how: str, where: str | None = None) -> None:
        self.escapes.append(Escape(how, _user_line() if where is None else where))
        torch.ops.analyzer.left_torch(tensor.detach(), how)

    def _sized_by_data(self, tensor: torch.Tensor) -> bool:
        """Whether the recording made ``tensor`` by a path through an op whose output shape
        depends on its input's values (``nonzero``, a boolean mask, ``unique``)."""
        node = _recorded_node(tensor)
        return node is not None and data_sized(node, self._data_sized)

    def _watch_thread(self, frame: Any, event: str, arg: Any) -> None:
        """The profile hook of a thread started while recording (``threading.setprofile``):
        at its first call, watch the thread's torch calls, and hand the thread to the hook
        that was there before (a profiler's), if any."""
        sys.setprofile(self._profile)
        if self._recording:
            _ThreadWatcher(self).__enter__()  # thread-local; it ends with the thread
        if self._profile is not None:
            self._profile(frame, event, arg)

    def _take_foreign(self) -> None:
        """Mark as read each recorded tensor another thread took (in this thread: the
        recording's modes are this thread's)."""
        taken, self._foreign = self._foreign, []
        seen: set[int] = set()
        for tensor, where in taken:
            if id(tensor) not in seen and _recorded_node(tensor) is not None:
                seen.add(id(tensor))
                self._record(tensor, THREAD, where)

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


class _ThreadWatcher(TorchFunctionMode):
    """Watches a thread other than the recording's: every tensor a torch call takes there
    is handed to the recorder (while it records), which marks it as read."""

    def __init__(self, recorder: EscapeRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if self.recorder._recording:
            where = _user_line()
            for value in (*args, *(kwargs or {}).values()):
                for tensor in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(tensor, torch.Tensor):
                        self.recorder._foreign.append((tensor, where))
        return func(*args, **(kwargs or {}))


def data_sized(node: fx.Node, memo: dict[fx.Node, bool]) -> bool:
    """Whether the shape of ``node``'s value may depend on the values of the graph: an op
    with a data-dependent output shape (PyTorch's tag ``dynamic_output_shape``; indexing only
    with a boolean mask) on the way to it. ``memo`` is shared between calls on one graph.

    >>> g = fx.Graph(); x = g.placeholder("x")
    >>> nz = g.call_function(torch.ops.aten.nonzero.default, (x,))
    >>> t = g.call_function(torch.ops.aten.t.default, (nz,))
    >>> y = g.call_function(torch.ops.aten.mul.Tensor, (x, 2))
    >>> memo = {}
    >>> data_sized(t, memo), data_sized(y, memo)
    (True, False)
    """
    stack = [node]
    while stack:
        top = stack[-1]
        if top in memo:
            stack.pop()
            continue
        inputs = top.all_input_nodes
        pending = [n for n in inputs if n not in memo]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        memo[top] = _shapes_by_data(top) or any(memo[n] for n in inputs)
    return memo[node]


def _shapes_by_data(node: fx.Node) -> bool:
    if not has_tag(node, torch.Tag.dynamic_output_shape):
        return False
    if node.target._opname in ("index", "_unsafe_index", "index_put", "_index_put_impl_"):
        indices = node.args[1] if len(node.args) > 1 else ()
        return any(_is_mask(i) for i in indices if isinstance(i, fx.Node))
    return True


def _is_mask(node: fx.Node) -> bool:
    value = node.meta.get("val")
    dtype = getattr(value, "dtype", None)
    return dtype is None or dtype in (torch.bool, torch.uint8)


def _recorded_node(tensor: torch.Tensor) -> fx.Node | None:
    """The node that recorded ``tensor`` in the make_fx recording now running, if any."""
    from torch.fx.experimental.proxy_tensor import get_proxy_mode, get_proxy_slot

    mode = get_proxy_mode()
    if mode is None:
        return None
    if torch._is_functional_tensor(tensor):  # torch.func.functionalize's wrapper
        tensor = torch._from_functional_tensor(tensor)
    try:
        return get_proxy_slot(tensor, mode.tracer).proxy.node
    except Exception:  # a tensor the recording does not track (a constant, a fake)
        return None


def _method_name(func: Any) -> str:
    """``numpy``, ``shape`` (reading the attribute), ``data=`` (assigning it)."""
    name = getattr(func, "__name__", "")
    if name in ("__get__", "__set__"):
        attribute = getattr(getattr(func, "__self__", None), "__name__", "")
        return attribute + ("=" if name == "__set__" else "")
    return name


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
