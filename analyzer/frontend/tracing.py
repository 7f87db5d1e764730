"""The one place that turns a PyTorch model into the analysis dialect.

Three frontends, tried in this order by ``frontend="auto"``:

* ``export``: ``torch.export.export(..., strict=False)``, the aten training IR, which
  keeps fused ops (``linear``, ``scaled_dot_product_attention``, ``layer_norm``) whole;
* ``fx``: ``torch.fx.symbolic_trace``, lowered to the same aten dialect by ``make_fx``;
* ``real``: a concrete ``make_fx`` trace that runs the model on the example input and
  freezes its Python control flow to it (said in ``warnings``).

Outputs of any structure (tuples, dicts, ``ModelOutput``, caches) are flattened to a
tuple of tensors first, so every frontend sees a plain function. The ``fx`` and ``real``
recordings live in :mod:`analyzer.frontend.recording` (re-exported here).

>>> import torch
>>> traced = trace(torch.nn.Linear(3, 2), (torch.randn(1, 3),))
>>> traced.frontend, sorted({n.target.__name__ for n in traced.op_nodes()})
('export', ['linear.default'])
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import warnings as python_warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from analyzer.errors import ForwardError, SpecError, TraceError, UntraceableError
from analyzer.frontend.dialect import InputKind, TracedModel, value_meta
from analyzer.frontend.functional import (
    assigns_tensor_data,
    functional_program,
    loses_functorch_inputs,
)
from analyzer.frontend.recording import (
    _WRAPPED,
    _first_lines,
    _Flattened,
    _trace_fx,
    _trace_real,
)
from analyzer.frontend.recording import escape_warning as escape_warning
from analyzer.frontend.recording import module_constants as module_constants
from analyzer.frontend.runs import check_forward_runs
from analyzer.frontend.training import TrainingStep, trace_training_step
from analyzer.frontend.unread_inputs import check_unread_inputs
from analyzer.frontend.values import flatten_tensors as flatten_tensors

FRONTENDS = ("export", "fx", "real")
_EXPORT_KINDS = {
    "USER_INPUT": InputKind.INPUT,
    "PARAMETER": InputKind.PARAMETER,
    "BUFFER": InputKind.BUFFER,
}


def trace(
    module: nn.Module | Callable[..., Any],
    example_args: Sequence[Any],
    *,
    frontend: str = "auto",
    model: str = "model",
    example_kwargs: dict[str, Any] | None = None,
    decompose: bool = False,
    mode: str | None = None,
    training: TrainingStep | None = None,
    dynamic_shapes: Sequence[Any] | None = None,
) -> TracedModel:
    """Trace ``module(*example_args, **example_kwargs)`` into the analysis dialect.

    ``frontend`` is ``"auto"`` (export, then fx, then real) or one of
    :data:`FRONTENDS`. ``decompose=True`` lowers fused ops to core aten (attention
    to ``bmm``/``softmax``, LSTM to per-step gates), which is what the empirical
    backend executes. The model is traced in the mode it was handed in (``train()`` or
    ``eval()``) unless ``mode`` names one; either way the caller's module is left as it
    was (training flags and buffers). With ``training``, the graph is one SGD step of the
    model instead (:mod:`analyzer.frontend.training`). ``dynamic_shapes`` (export only)
    keeps axes symbolic: one ``{axis: torch.export.Dim}`` or ``None`` per input,
    ``example_args`` then ``example_kwargs`` in order; torch.export's own error is the
    ``TraceError``'s cause when it rejects them. Raises :class:`~analyzer.errors.UntraceableError`
    (a ``TraceError``) with every frontend's reason when none succeeds on a model that was
    not seen failing, a plain ``TraceError`` with the same text when the model failed too,
    and with the model's own error when a
    model whose tensors are materialised fails on its example inputs (it is run once:
    :mod:`analyzer.frontend.runs`).
    """
    if frontend != "auto" and frontend not in FRONTENDS:
        raise SpecError(
            f"unknown frontend {frontend!r}: choose 'auto' or one of {', '.join(FRONTENDS)}"
        )
    if not isinstance(example_args, (tuple, list)):
        raise SpecError("example_args must be a tuple or list of the model's inputs")
    if mode not in (None, "train", "eval"):
        raise SpecError(f"mode must be 'train' or 'eval' (or None: as handed in), not {mode!r}")
    if dynamic_shapes is not None and frontend not in ("auto", "export"):
        raise SpecError(f"dynamic_shapes need the export frontend, not {frontend!r}")
    with module_left_as_it_was(module, mode) as analysed_mode:
        if training is not None:
            traced = trace_training_step(
                module, example_args, training, example_kwargs=example_kwargs, model=model
            )
            names = [*_input_names(module, len(example_args)), *(example_kwargs or {})]
            extra = ["targets", "query"] if training.then_predict else ["targets"]
            if len(names) + len(extra) == len(traced.example_inputs):
                _name_inputs(traced, [*names, *extra])
        else:
            failed = None  # run before tracing: export may rewrite the module's attributes
            if frontend != "real":
                try:
                    check_forward_runs(module, example_args, example_kwargs or {}, model)
                except TraceError as error:
                    failed = error
            try:  # when none traces, every frontend's reason is said
                traced = _trace_frontends(
                    module, example_args, example_kwargs, frontend, model, decompose,
                    dynamic_shapes,
                )  # fmt: skip
            except TraceError as error:  # the model's own failure comes first
                if failed is None:
                    raise
                raise ForwardError(f"{failed} No frontend traces it either: {error}") from (
                    failed.__cause__
                )
            if failed is not None:
                raise failed
            check_unread_inputs(traced, module, example_args, example_kwargs or {}, model)
    traced.mode = analysed_mode
    traced.metadata["inputs"] = input_shapes(traced)
    if isinstance(module, nn.Module):
        traced.metadata["parameters"] = sum(p.numel() for p in module.parameters())
    return traced


def input_shapes(traced: TracedModel) -> list[dict[str, Any]]:
    """Name, shape and dtype of every user input of a traced graph."""
    found = []
    for node in traced.graph.nodes:
        if node.op == "placeholder" and traced.input_kinds.get(node.name) is InputKind.INPUT:
            shape, dtype = value_meta(node)
            found.append({"name": node.name, "shape": shape, "dtype": dtype})
    return found


@contextlib.contextmanager
def module_left_as_it_was(module: Any, mode: str | None) -> Iterator[str]:
    """Put ``module`` in ``mode`` (if given) for the block, and restore every submodule's
    training flag and every buffer afterwards (a frontend that runs the model for real
    would otherwise update batch-norm statistics). Yields the mode analysed: ``train``,
    ``eval`` or ``none`` for a plain function."""
    if not isinstance(module, nn.Module):
        yield "none"
        return
    flags = {name: sub.training for name, sub in module.named_modules()}
    buffers = {
        name: buffer.detach().clone()
        for name, buffer in module.named_buffers()
        if buffer.device.type != "meta"
    }
    if mode is not None:
        module.train(mode == "train")
    try:
        yield "train" if module.training else "eval"
    finally:
        for name, sub in module.named_modules():
            sub.training = flags.get(name, sub.training)
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                if name in buffers and buffer.shape == buffers[name].shape:
                    buffer.copy_(buffers[name])


def _trace_frontends(
    module: Any,
    example_args: Sequence[Any],
    example_kwargs: dict[str, Any] | None,
    frontend: str,
    model: str,
    decompose: bool,
    dynamic_shapes: Sequence[Any] | None = None,
) -> TracedModel:
    if example_kwargs:
        module = _keywords_as_positions(module, len(example_args), list(example_kwargs))
        example_args = (*example_args, *example_kwargs.values())
    order = FRONTENDS if frontend == "auto" else (frontend,)
    tracers = dict(_TRACERS)
    if dynamic_shapes is not None:  # symbolic axes: only export keeps them
        order = ("export",)
        tracers["export"] = functools.partial(_trace_export, dynamic_shapes=dynamic_shapes)
    reasons: list[str] = []
    last_error: Exception | None = None
    for name in order:
        try:
            traced = tracers[name](module, tuple(example_args), model, decompose)
        except SpecError:
            raise
        except Exception as error:  # every frontend failure is reported, none is lost
            reasons.append(f"{name}: {type(error).__name__}: {_first_lines(error)}")
            last_error = error
            continue
        traced.warnings[:0] = [f"frontend {r} (fell back to {name})" for r in reasons]
        if example_kwargs:
            traced.module_prefix += f"{_WRAPPED}."  # the keyword wrapper's attribute
        _name_inputs(traced, _input_names(module, len(example_args)))
        traced.example_inputs = tuple(example_args)
        return traced
    raise UntraceableError(
        f"could not trace {model}: "
        + "; ".join(reasons)
        + ". If the forward itself fails, call the model on its example inputs to see why."
    ) from last_error


class _KeywordsAsPositions(nn.Module):
    """Takes keyword inputs positionally, so that every frontend sees them as inputs.

    Built by :func:`_keywords_as_positions` with a ``forward`` of one named parameter per
    input: ``fx.symbolic_trace`` gives a ``*args`` forward one proxy, which cannot be
    iterated, so the wrapper must not take ``*args``."""

    def __init__(self, model: Any, positional: int, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self._positional, self._names = positional, names

    def _call(self, args: tuple[Any, ...]) -> Any:
        keywords = dict(zip(self._names, args[self._positional :], strict=True))
        return self.model(*args[: self._positional], **keywords)


def _keywords_as_positions(model: Any, positional: int, names: list[str]) -> _KeywordsAsPositions:
    """A :class:`_KeywordsAsPositions` whose ``forward(self, input_0, …, input_n)`` fx
    can trace (fx reads the class's forward and its code's argument names)."""
    parameters = ", ".join(f"input_{i}" for i in range(positional + len(names)))
    source = f"def forward(self, {parameters}):\n    return self._call(({parameters},))\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # a generated signature: the names are ours, never user text
    forward = namespace["forward"]
    wrapper = type("_KeywordsAsPositions", (_KeywordsAsPositions,), {"forward": forward})
    return wrapper(model, positional, names)


def _trace_export(
    module: Any,
    args: tuple[Any, ...],
    model: str,
    decompose: bool = False,
    dynamic_shapes: Sequence[Any] | None = None,
) -> TracedModel:
    # the wrapper's forward takes *args: its one spec is the tuple of the inputs' specs
    shapes = None if dynamic_shapes is None else (tuple(dynamic_shapes),)
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")
        program = torch.export.export(_Flattened(module), args, dynamic_shapes=shapes, strict=False)
        if loses_functorch_inputs(program.graph):
            raise TraceError(
                "export captured the input of a torch.func transform inside forward as a "
                "constant; the graph would not follow the input"
            )
        if assigns_tensor_data(program.graph):
            raise TraceError(
                "the forward assigns Tensor.data, which export does not record (the tensor "
                "would read as it was before the assignment)"
            )
        program = program.run_decompositions() if decompose else functional_program(program)
    input_kinds: dict[str, InputKind] = {}
    values: dict[str, Any] = {}
    for spec in program.graph_signature.input_specs:
        name = getattr(spec.arg, "name", "")
        # anything else (lifted constants, custom objects, tokens) is a constant
        input_kinds[name] = _EXPORT_KINDS.get(spec.kind.name, InputKind.CONSTANT)
        if spec.target is not None:
            values[name] = program.state_dict.get(spec.target, program.constants.get(spec.target))
    roles = [_output_role(spec) for spec in program.graph_signature.output_specs]
    return TracedModel(
        program.graph_module.graph, input_kinds, "export", model, [], f"{_WRAPPED}.",
        graph_module=program.graph_module, placeholder_values=values, output_roles=roles,
    )  # fmt: skip


def _output_role(spec: Any) -> str:
    """``output`` for what the forward returns; ``buffer:NAME`` / ``input:NAME`` for the new
    value of a tensor the forward wrote into (a KV cache, running statistics)."""
    kind = spec.kind.name
    if kind == "USER_OUTPUT":
        return "output"
    target = str(spec.target).removeprefix(f"{_WRAPPED}.")
    if kind == "BUFFER_MUTATION":
        return f"buffer:{target}"
    if kind == "USER_INPUT_MUTATION":
        return f"input:{target}"
    return kind.lower()


def _input_names(module: Any, count: int) -> list[str]:
    """The names of the model's inputs, from its forward's signature where it has one."""
    if isinstance(module, _KeywordsAsPositions):
        inner = _input_names(module.model, module._positional)[: module._positional]
        return [*inner, *module._names]
    function = module.forward if isinstance(module, nn.Module) else module
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters) or len(names) < count:
        return []  # *args: keep the tracer's names
    return names[:count]


def _name_inputs(traced: TracedModel, names: list[str]) -> None:
    """Rename the input placeholders after the forward's parameters (``x``, ``input_ids``),
    so that witness paths start at names the user wrote."""
    inputs = [
        n for n in traced.graph.nodes
        if n.op == "placeholder" and traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    if len(inputs) != len(names):
        return
    taken = {n.name for n in traced.graph.nodes}
    for node, name in zip(inputs, names, strict=True):
        if name == node.name or name in taken or not name.isidentifier():
            continue
        old = node.name
        node._rename(name)  # fx may add a suffix where the name shadows a builtin
        traced.input_kinds[node.name] = traced.input_kinds.pop(old)
        taken.add(node.name)


_TRACERS: dict[str, Callable[[Any, tuple[Any, ...], str, bool], TracedModel]] = {
    "export": _trace_export,
    "fx": _trace_fx,
    "real": _trace_real,
}
