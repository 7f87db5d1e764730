"""The ``fx`` and ``real`` frontends: a ``make_fx`` recording of the model's forward.

``fx`` records ``torch.fx.symbolic_trace``'s graph with fake tensors; ``real`` runs the
model once on the example input and freezes its Python control flow to it. Both lower
to the aten dialect, functionalise in-place writes where they can, record each node's
module path, and say where values left torch while recording (:func:`escape_warning`).
:mod:`analyzer.frontend.tracing` chooses among the frontends.

>>> _first_lines(ValueError("x" * 700))[-3:], len(_first_lines(ValueError("x" * 700)))
('xx…', 601)
>>> escape_warning(["x.item()"]).split(" (")[0]
'values left torch while the model was recorded'
"""

from __future__ import annotations

import contextlib
import warnings as python_warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from analyzer.frontend.dialect import InputKind, TracedModel, op_name
from analyzer.frontend.escaping import NUMBER_READS, SIZE_READ, EscapeRecorder, reads_values
from analyzer.frontend.functional import mutating_nodes
from analyzer.frontend.values import flatten_tensors

_WRAPPED = "model"  # attribute under which the flattening wrapper holds the model


class _Flattened(nn.Module):
    """Wraps a model so that its forward returns a flat tuple of tensors."""

    def __init__(self, model: nn.Module | Callable[..., Any]) -> None:
        super().__init__()
        self.model = model  # registered as a submodule when it is one, else a plain attribute

    def forward(self, *args: Any) -> tuple[torch.Tensor, ...]:
        return tuple(flatten_tensors(self.model(*args)))


def _trace_with_make_fx(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    model: str,
    mode: str,
    name: str,
    decompose: bool = False,
) -> TracedModel:
    from torch._decomp import core_aten_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    flat, function_root = _Flattened(function), function
    recorders: list[EscapeRecorder] = []

    def traced(function: Callable[..., Any], pre_dispatch: bool) -> fx.GraphModule:
        recorder = EscapeRecorder()  # one per recording: the last one's escapes are the graph's
        recorders[:] = [recorder]

        def recorded(*inputs: Any) -> Any:
            outputs = function(*inputs)
            recorder.flush()
            return outputs

        with (
            python_warnings.catch_warnings(),
            _module_paths_recorded(function_root),
            recorder,
        ):
            python_warnings.simplefilter("ignore")
            return make_fx(
                recorded,
                decomposition_table=core_aten_decompositions() if decompose else None,
                tracing_mode=mode,
                pre_dispatch=pre_dispatch,
                _allow_non_fake_inputs=True,
                # real tensors may steer Python control flow: that is the real frontend's job
                _error_on_data_dependent_ops=mode != "real",
            )(*args)

    graph_module = traced(flat, pre_dispatch=not decompose)
    if _captured_constants(graph_module):
        # pre-dispatch tracing captures tensors it cannot follow (the input of a torch.func
        # transform inside forward) as constants; below autograd they are followed
        graph_module = traced(flat, pre_dispatch=False)
    warnings: list[str] = []
    if mutating_nodes(graph_module.graph):
        # make_fx keeps in-place writes; functionalize below the dispatcher's autograd
        # layer (pre-dispatch tracing cannot), as export's functionalization does
        try:
            functional = torch.func.functionalize(flat, remove="mutations_and_views")
            graph_module = traced(functional, pre_dispatch=False)
        except Exception as error:
            warnings.append(
                f"could not make the graph functional ({type(error).__name__}: "
                f"{_first_lines(error, 1)}); in-place writes are analysed by storage: a value "
                "sharing storage with a written tensor gets everything written into it"
            )
    graph = graph_module.graph
    kinds = {n.name: InputKind.INPUT for n in graph.nodes if n.op == "placeholder"}
    traced_model = TracedModel(graph, kinds, name, model, warnings, "", graph_module=graph_module)
    escapes = [escape.describe() for escape in recorders[0].escapes]
    traced_model.metadata["escapes"] = escapes
    traced_model.metadata["module_constants"] = module_constants(
        graph_module, function_root, recorders[0].reassigned
    )
    reads = {op_name(n) for n in graph.nodes if reads_values(n)}
    if escapes or reads:
        warnings.append(escape_warning(escapes, sorted(reads - NUMBER_READS)))
    return traced_model


def escape_warning(escapes: list[str], read_ops: Sequence[str] = ()) -> str:
    """The warning of a recording through which values left torch: ``escapes`` as the
    recorder described them, ``read_ops`` the ops of the graph that return a Python value.

    >>> escape_warning([], ["aten.equal"]).split(": what")[0]
    'values left torch while the model was recorded (Python values returned by aten.equal)'
    """
    returned = "Python values returned by " + ", ".join(read_ops) if read_ops else ""
    named = "; ".join([*dict.fromkeys(escapes), *([returned] if returned else [])])
    named = named or "numbers read with .item() or float()"
    sized = any(e.startswith(SIZE_READ) for e in escapes)
    return (
        f"values left torch while the model was recorded ({named}): what the forward built "
        "from them (tensors it made, numbers it passed to ops, values it wrote back) is "
        "analysed as an unknown function of the values read (continuous, degree inf"
        + ("; of a size, a whole number: discrete" if sized else "")
        + "), not as the constants the recording froze"
    )


def module_constants(
    graph_module: fx.GraphModule, root: Any, reassigned: Sequence[torch.Tensor] = ()
) -> list[str]:
    """The constants of a make_fx graph that are the module's own tensors (parameters,
    buffers, tensor attributes), by storage; the others were made during the forward. A
    tensor whose ``data`` the forward assigned (``reassigned``) is not the module's own: its
    storage is the assigned value's."""
    owned = set()
    if isinstance(root, nn.Module):
        for module in root.modules():
            tensors = [*module.parameters(False), *module.buffers(False)]
            tensors += [v for v in vars(module).values() if isinstance(v, torch.Tensor)]
            owned.update(_storage(t) for t in tensors)
    owned -= {_storage(t) for t in reassigned}
    found = []
    for node in graph_module.graph.nodes:
        if node.op != "get_attr":
            continue
        value = getattr(graph_module, str(node.target), None)
        if isinstance(value, torch.Tensor) and _storage(value) in owned - {None}:
            found.append(str(node.target))
    return found


def _storage(tensor: torch.Tensor) -> int | None:
    try:
        return tensor.untyped_storage().data_ptr() or None
    except Exception:  # a tensor without storage (meta, a subclass) is never matched
        return None


def _captured_constants(graph_module: fx.GraphModule) -> bool:
    return any(
        n.op == "get_attr" and str(n.target).startswith("_tensor_constant")
        for n in graph_module.graph.nodes
    )


@contextlib.contextmanager
def _module_paths_recorded(root: Any) -> Iterator[None]:
    """Record ``nn_module_stack`` on the nodes make_fx creates, as export does.

    make_fx copies ``nn_module_stack`` from fx's current node meta; global forward
    hooks (a public API, nothing patched) keep that meta at the running module's path.
    """
    import torch.fx.traceback as fx_traceback

    names = {id(m): n for n, m in root.named_modules()} if isinstance(root, nn.Module) else {}
    stack: list[str] = []

    def publish() -> None:
        fx_traceback.current_meta["nn_module_stack"] = {p: (p, "") for p in stack}

    def enter(module: nn.Module, args: Any) -> None:
        if id(module) in names:
            stack.append(names[id(module)])
            publish()

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        if id(module) in names and stack:
            stack.pop()
            publish()

    with fx_traceback.preserve_node_meta():
        handles = [
            nn.modules.module.register_module_forward_pre_hook(enter),
            nn.modules.module.register_module_forward_hook(leave),
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


def _trace_fx(
    module: Any, args: tuple[Any, ...], model: str, decompose: bool = False
) -> TracedModel:
    if not isinstance(module, nn.Module):
        raise TypeError("the fx frontend traces nn.Module instances only")
    symbolic = fx.symbolic_trace(module)
    return _trace_with_make_fx(symbolic, args, model, "fake", "fx", decompose)


def _trace_real(
    module: Any, args: tuple[Any, ...], model: str, decompose: bool = False
) -> TracedModel:
    traced = _trace_with_make_fx(module, args, model, "real", "real", decompose)
    traced.warnings.append(
        "the real frontend ran the model once and froze its Python control flow to the "
        "example input: branches and loop counts that depend on input values may differ "
        "for other inputs"
    )
    return traced


def _first_lines(error: BaseException, limit: int = 3) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    text = " ".join(lines[:limit]) or repr(error)
    return text if len(text) < 600 else text[:600] + "…"
