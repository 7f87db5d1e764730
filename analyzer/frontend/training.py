"""Training-step graphs: one SGD step of a model as a function of its data batch.

docs/concepts.md. ``trace(module, args, training=TrainingStep(loss="mse", lr=0.1))`` traces

    (data, targets) → (W₁ − η·∇W₁, …, loss)

with the current parameters held static: the forward, the loss, the backward and the
update in one aten graph, in the same dialect as a forward trace. The data and float
targets are continuous sources, integer class targets discrete. With ``then_predict``,
the updated weights are applied to a fresh ``query`` input and the step returns that
prediction: the dual form, where updated weights are input-generated weights.

How: the forward and loss are exported (``torch.export``, so models that only export
— transformers' masking code — work), then that exported graph is run under ``make_fx``
with autograd computing the gradients, so the backward appears as aten ops. Every
backward op inherits the module path of the forward op it differentiates (autograd
pre-hooks publish it while the backward runs), so reports fold each layer's backward
onto that layer.

>>> import torch
>>> from analyzer.analysis import analyze
>>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
>>> step = trace_training_step(net, (torch.randn(5, 3),), TrainingStep(lr=0.1))
>>> result = analyze(step)
>>> [s.kind for s in result.sites], result.degree
(['contraction', 'contraction'], '2')
"""

from __future__ import annotations

import contextlib
import re
import warnings as python_warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.fx.traceback as fx_traceback
from torch import nn

from analyzer.errors import SpecError, TraceError
from analyzer.frontend.dialect import InputKind, TracedModel
from analyzer.frontend.values import flatten_tensors

LOSSES = ("mse", "ce")


@dataclass(frozen=True)
class TrainingStep:
    """What a training step does: the loss (``mse`` against float targets shaped like the
    output, or ``ce``: cross-entropy against integer class targets), the SGD learning
    rate, and whether to apply the updated model to a fresh query (``then_predict``).

    >>> TrainingStep(loss="ce", lr=0.5).describe()
    {'loss': 'ce', 'lr': 0.5, 'optimizer': 'sgd', 'then_predict': False}
    """

    loss: str = "mse"
    lr: float = 0.1
    then_predict: bool = False

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise SpecError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if not isinstance(self.lr, (int, float)) or isinstance(self.lr, bool) or self.lr <= 0:
            raise SpecError(f"lr must be a positive number, not {self.lr!r}")

    def describe(self) -> dict[str, Any]:
        """The ``"training"`` object of the analysis JSON."""
        return {"loss": self.loss, "lr": self.lr, "optimizer": "sgd",
                "then_predict": self.then_predict}  # fmt: skip


def trace_training_step(
    module: nn.Module,
    example_args: Sequence[Any],
    step: TrainingStep,
    *,
    example_kwargs: dict[str, Any] | None = None,
    targets: torch.Tensor | None = None,
    model: str = "model",
) -> TracedModel:
    """Trace one SGD step of ``module`` on the batch ``example_args`` (see the module doc).

    ``targets`` default to random ones of the right kind (float, shaped like the output,
    for ``mse``; class indices for ``ce``). Raises :class:`SpecError` when the model has
    no trainable parameter.
    """
    if not isinstance(module, nn.Module):
        raise SpecError("a training step needs an nn.Module with parameters to update")
    trainable = [name for name, p in module.named_parameters() if p.requires_grad]
    if not trainable:
        raise SpecError(
            f"{model} has no trainable parameter (every parameter has requires_grad=False): "
            "a training step would update nothing"
        )
    kwargs = dict(example_kwargs or {})
    data = (*example_args, *kwargs.values())
    wrapper = _LossModel(module, len(example_args), list(kwargs), step.loss)
    output = _output_shape(wrapper.model_output, data)
    if targets is None:
        targets = _default_targets(output, step.loss)
    query = (_like(data[0]),) if step.then_predict else ()
    try:
        with python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")
            program = torch.export.export(wrapper, (*data, targets, *query), strict=False)
    except Exception as error:
        raise TraceError(
            f"could not export the forward and loss of {model} for a training step: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from error
    program = _recurrent_cells_decomposed(program)
    traced = _joint(program, step, data, targets, query, model)
    traced.warnings.extend(_coupling_warnings(module))
    traced.metadata["training"] = step.describe()
    return traced


class _LossModel(nn.Module):
    """``(data..., targets) → loss`` around the user's model; the loss is computed in a
    submodule called ``loss`` so that its ops carry that module path."""

    def __init__(self, model: nn.Module, positional: int, keywords: list[str], loss: str):
        super().__init__()
        self.model = model
        self.loss = _Loss(loss)
        self._positional, self._keywords = positional, keywords

    def model_output(self, *data: Any) -> torch.Tensor:
        keywords = dict(zip(self._keywords, data[self._positional :], strict=True))
        return _main_output(self.model(*data[: self._positional], **keywords))

    def forward(self, *inputs: Any) -> tuple[torch.Tensor, ...]:
        """``(data..., targets[, query]) → (loss[, the model's output on the query])``;
        the query takes the place of the first input."""
        count = self._positional + len(self._keywords)
        data, targets, query = inputs[:count], inputs[count], inputs[count + 1 :]
        loss = self.loss(self.model_output(*data), targets)
        if not query:
            return (loss,)
        return (loss, self.model_output(*query, *data[1:]))


class _Loss(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.kind == "ce":
            return nn.functional.cross_entropy(output.flatten(0, -2), targets.flatten())
        return nn.functional.mse_loss(output, targets)


def _main_output(value: Any) -> torch.Tensor:
    """The tensor a loss is computed on: the output, or the first floating tensor of an
    output structure (``last_hidden_state``, ``logits``)."""
    for tensor in flatten_tensors(value):
        if tensor.is_floating_point():
            return tensor
    raise SpecError("the model returns no floating-point tensor to compute a loss on")


def _output_shape(function: Any, data: tuple[Any, ...]) -> torch.Tensor:
    """The model's output as a fake tensor: its shape and dtype, without running it."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    fake = tuple(mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in data)
    try:
        with mode, python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")
            return function(*fake)
    except Exception as error:
        raise TraceError(
            f"the model's forward failed on its example inputs: {type(error).__name__}: "
            f"{_first_line(error)}"
        ) from error


def _default_targets(output: torch.Tensor, loss: str) -> torch.Tensor:
    device = output.device
    if loss == "ce":
        if output.dim() < 1 or output.shape[-1] < 2:
            raise SpecError("--loss ce needs an output with a class axis last (logits)")
        return torch.randint(0, int(output.shape[-1]), tuple(output.shape[:-1]), device=device)
    return torch.randn(tuple(output.shape), dtype=output.dtype, device=device)


def _like(value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise SpecError("--then-predict needs a floating-point first input to query with")
    return torch.randn_like(value)


_RECURRENT = ("lstm", "gru", "rnn_tanh", "rnn_relu")


def _recurrent_cells_decomposed(
    program: torch.export.ExportedProgram,
) -> torch.export.ExportedProgram:
    """Fused recurrent layers written out as per-step gates, so that their backward is
    made of elementwise ops and matmuls (the CPU kernel's backward is one opaque op)."""
    from torch._decomp import get_decompositions

    if not any(
        n.op == "call_function" and getattr(n.target, "__name__", "").split(".")[0] in _RECURRENT
        for n in program.graph.nodes
    ):
        return program
    table = get_decompositions([getattr(torch.ops.aten, name) for name in _RECURRENT])
    return program.run_decompositions(table)


class _Publisher(fx.Interpreter):
    """Runs the exported forward; each op's autograd nodes publish that op's module path
    while the backward runs, so backward ops land in the layer they differentiate."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.claimed: set[Any] = set()

    def run_node(self, node: fx.Node) -> Any:
        result = super().run_node(node)
        published = {k: node.meta[k] for k in ("nn_module_stack", "stack_trace") if k in node.meta}
        before = {
            t.grad_fn
            for a in node.all_input_nodes
            for t in _tensors(self.env.get(a))
            if t.grad_fn is not None
        }
        pending = [t.grad_fn for t in _tensors(result) if t.grad_fn is not None]
        while pending:
            function = pending.pop()
            if function is None or function in before or function in self.claimed:
                continue
            self.claimed.add(function)
            function.register_prehook(_publishing(published))
            pending.extend(f for f, _ in function.next_functions)
        return result


def _publishing(meta: dict[str, Any]) -> Any:
    def hook(grad_outputs: Any) -> None:
        fx_traceback.current_meta.update(meta)

    return hook


def _tensors(value: Any) -> list[torch.Tensor]:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return [v for v in values if isinstance(v, torch.Tensor)]


@contextlib.contextmanager
def _module_meta(path: str) -> Iterator[None]:
    """Ops created in this block carry the module path ``path`` (the SGD update of a
    layer's parameters belongs to that layer)."""
    saved = dict(fx_traceback.current_meta)
    fx_traceback.current_meta["nn_module_stack"] = {path: (path, "")} if path else {}
    fx_traceback.current_meta.pop("stack_trace", None)
    try:
        yield
    finally:
        fx_traceback.current_meta.clear()
        fx_traceback.current_meta.update(saved)


def _joint(
    program: torch.export.ExportedProgram,
    step: TrainingStep,
    data: tuple[Any, ...],
    targets: torch.Tensor,
    query: tuple[torch.Tensor, ...],
    model: str,
) -> TracedModel:
    from torch.fx.experimental.proxy_tensor import make_fx

    signature = program.graph_signature
    state = {**program.state_dict, **program.constants}
    specs = [s for s in signature.input_specs if s.kind.name != "USER_INPUT"]
    trainable = {
        s.target for s in specs
        if s.kind.name == "PARAMETER" and state[s.target].requires_grad
    }  # fmt: skip
    static_values = [state[s.target] if s.target in state else None for s in specs]
    user_outputs = [i for i, s in enumerate(signature.output_specs) if s.kind.name == "USER_OUTPUT"]
    graph_module = program.graph_module
    updated = [s.target for s in specs if s.target in trainable]

    def step_function(static: list[torch.Tensor], *inputs: torch.Tensor) -> tuple[Any, ...]:
        leaves = [
            v.detach().requires_grad_(s.target in trainable) if isinstance(v, torch.Tensor) else v
            for s, v in zip(specs, static, strict=True)
        ]
        with torch.enable_grad():
            outputs = _Publisher(graph_module).run(*leaves, *inputs)
            outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
            loss = outputs[user_outputs[0]]
            weights = [v for s, v in zip(specs, leaves, strict=True) if s.target in trainable]
            gradients = torch.autograd.grad(loss, weights, allow_unused=True)
        new = {}
        for name, weight, gradient in zip(updated, weights, gradients, strict=True):
            with _module_meta(name.rpartition(".")[0].removeprefix("model.").removeprefix("model")):
                new[name] = (
                    weight.detach() if gradient is None else weight.detach() - step.lr * gradient
                )
        if not query:
            return (*new.values(), loss.detach())
        replaced = [new.get(s.target, v) for s, v in zip(specs, leaves, strict=True)]
        replaced = [v.detach() if isinstance(v, torch.Tensor) else v for v in replaced]
        # the model's output on the query, computed again with the updated weights
        prediction = graph_module(*replaced, *[i.detach() for i in inputs])
        return (prediction[user_outputs[1]],)

    arguments = (static_values, *data, targets, *query)
    try:
        with python_warnings.catch_warnings(), fx_traceback.preserve_node_meta():
            python_warnings.simplefilter("ignore")
            traced = make_fx(
                step_function, tracing_mode="fake",
                pre_dispatch=False, _allow_non_fake_inputs=True,
            )(*arguments)  # fmt: skip
    except Exception as error:
        raise TraceError(
            f"could not trace a training step of {model}: {type(error).__name__}: "
            f"{_first_line(error)}"
        ) from error
    traced.graph.eliminate_dead_code()  # the query's output before the update, unused
    traced.recompile()
    return _dialect(traced, specs, state, trainable, data, targets, query, step, model)


def _dialect(
    traced: fx.GraphModule,
    specs: list[Any],
    state: dict[str, Any],
    trainable: set[str],
    data: tuple[Any, ...],
    targets: torch.Tensor,
    query: tuple[torch.Tensor, ...],
    step: TrainingStep,
    model: str,
) -> TracedModel:
    """Name the placeholders (parameters after their path, data after the forward's
    inputs) and record which are static."""
    placeholders = [n for n in traced.graph.nodes if n.op == "placeholder"]
    static_nodes, input_nodes = placeholders[: len(specs)], placeholders[len(specs) :]
    kinds: dict[str, InputKind] = {}
    values: dict[str, Any] = {}
    taken = {n.name for n in traced.graph.nodes}
    for spec, node in zip(specs, static_nodes, strict=True):
        name = _identifier(
            f"p_{spec.target}" if spec.kind.name == "PARAMETER" else f"b_{spec.target}"
        )
        if name not in taken:
            taken.discard(node.name)
            node._rename(name)
            taken.add(node.name)
        kind = {"PARAMETER": InputKind.PARAMETER, "BUFFER": InputKind.BUFFER}
        kinds[node.name] = kind.get(spec.kind.name, InputKind.CONSTANT)
        values[node.name] = state.get(spec.target)
    labels = [f"data_{i}" for i in range(len(data))] + ["targets"] + ["query"] * len(query)
    for node, label in zip(input_nodes, labels, strict=True):
        if label not in taken:
            node._rename(label)
            taken.add(node.name)
        kinds[node.name] = InputKind.INPUT
    frozen = sorted(
        s.target.removeprefix("model.") for s in specs
        if s.kind.name == "PARAMETER" and s.target not in trainable
    )  # fmt: skip
    warnings = [f"frozen parameters get no update: {', '.join(frozen)}"] if frozen else []
    result = TracedModel(
        traced.graph, kinds, "training", model, warnings, "model.",
        graph_module=traced, placeholder_values=values,
        example_inputs=(*data, targets, *query),
    )  # fmt: skip
    return result


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _coupling_warnings(module: nn.Module) -> list[str]:
    coupled = [
        name or "(root)"
        for name, sub in module.named_modules()
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.training
    ]
    if not coupled:
        return []
    return [
        "batch norm in training mode couples the examples of a batch (each output depends "
        f"on the whole batch): {', '.join(coupled)}"
    ]


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0][:400] if lines else repr(error)
