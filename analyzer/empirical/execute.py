"""Run the published graph, node by node, in float64, as a function of its continuous sources.

The empirical backend executes the very graph that ``analyzer.trace`` returns and
``analyze`` reads (no re-trace, no decomposition of the whole graph), so every
published node and site can be watched. :class:`Program` holds what running it needs:
float64 copies of the parameters and inputs on the chosen device (the caller's module
and tensors are never touched), the continuous sources, and how each node runs.

A node runs, in order of preference, through

1. its explicit implementation in :mod:`analyzer.empirical.ops`, when PyTorch's nested
   forward-mode AD is wrong, missing or blind for that op;
2. the op itself;
3. when that raises under differentiation or batching, the fallbacks of
   :mod:`analyzer.empirical.fallbacks` (a decomposition, the functional form of a write,
   detached inputs for integer outputs, central finite differences), each recorded in
   :attr:`Program.fallbacks` and named in the report. Ops outside ``aten``/``prims``
   always run through finite differences.

Weights and inputs the graph writes into are copied at the start of every run, so that
each run starts from the same values.

Float dtypes and devices written into the graph (``to(float32)``, ``arange(device=…)``)
are retargeted to float64 and the chosen device. Random ops draw from a generator
reseeded before every run, so a sampling op is one fixed function of its parameters.

The continuous sources are found from the graph, not from the claims being checked:
floating-point user inputs, and lookups (``embedding``, ``index``, ``gather``…) of a table
no input reaches by indices an input reaches.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> program = Program.of(trace(torch.nn.Linear(2, 1), (torch.randn(3, 2),)))
>>> [n.name for n in program.sources], program.run(program.source_values)[0].dtype
(['input_1'], torch.float64)
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.utils._pytree as pytree

from analyzer.empirical.fallbacks import (
    Fallback,
    fallbacks_for,
    finite_difference,
    linearised,
    out_of_place,
    trusted,
)
from analyzer.empirical.graphs import (
    continuous_sources,
    inside_model_vmap,
    reachable,
    written_placeholders,
)
from analyzer.empirical.model_calls import functionalized, model_vmap
from analyzer.empirical.ops import EXPLICIT, EXPLICIT_BY_NAME, WithInner
from analyzer.empirical.values import (
    ExecutionError,
    float64_copy,
    floating_leaves,
    is_real_valued,
    main_tensor,
    retarget,
)
from analyzer.frontend.dialect import TracedModel, op_name

__all__ = [
    "ExecutionError",
    "NodeError",
    "Program",
    "floating_leaves",
    "is_real_valued",
    "main_tensor",
    "out_of_place",
    "retarget",
]

Observer = Callable[[str, Any], None]
_SKIPPED = ("aten._assert", "aten.sym_constrain", "aten._functional_assert", "aten._check")
_SUBGRAPH_OPS = ("wrap_with_set_grad_enabled", "wrap_with_autocast", "invoke_subgraph")


@dataclass
class Program:
    """A traced graph ready to run in float64 as a function of its continuous sources."""

    traced: TracedModel
    device: torch.device
    sources: list[fx.Node]
    source_values: tuple[torch.Tensor, ...]
    placeholder_args: tuple[Any, ...]
    varying: frozenset[fx.Node]  # reachable from a source: may change along a direction
    shapes: dict[str, tuple[torch.Size, torch.dtype]]  # watched value -> shape, dtype
    seed: int = 0
    fallbacks: dict[fx.Node, Fallback] = field(default_factory=dict)
    written: frozenset[str] = frozenset()  # weights the graph writes into: copied per run
    opaque: frozenset[fx.Node] = frozenset()  # values batched by the model's own vmap
    _attributes: dict[str, Any] = field(default_factory=dict, repr=False)

    @staticmethod
    def of(traced: TracedModel, device: str | torch.device = "cpu", seed: int = 0) -> Program:
        """Copy weights and inputs to ``device`` in float64, find the continuous sources,
        and run the graph once to record every value's shape and the sources' values."""
        if traced.graph_module is None:
            raise ExecutionError(
                "this traced model cannot be executed (a stored trace has no weights): "
                "validate the model itself"
            )
        device = torch.device(device)
        placeholders = [n for n in traced.graph.nodes if n.op == "placeholder"]
        args = tuple(float64_copy(v, device) for v in _placeholder_values(traced, placeholders))
        sources = continuous_sources(traced)
        program = Program(traced, device, sources, (), args, reachable(traced, sources), {}, seed)
        program.written = written_placeholders(traced.graph)
        program.opaque = inside_model_vmap(traced.graph)
        values: dict[str, torch.Tensor] = {}
        shapes: dict[str, tuple[torch.Size, torch.dtype]] = {}
        wanted = {n.name for n in sources}

        def record(key: str, value: Any) -> None:
            tensor = main_tensor(value)
            if tensor is not None:
                shapes[key] = (tensor.shape, tensor.dtype)
                if key in wanted:
                    values[key] = tensor
            if isinstance(value, (tuple, list)):
                for index, member in enumerate(pytree.tree_leaves(value)):
                    if isinstance(member, torch.Tensor):
                        shapes[f"{key}#{index}"] = (member.shape, member.dtype)

        with torch.no_grad():
            program.run_with({}, record, None)
        program.shapes = shapes
        program.source_values = tuple(values[n.name] for n in sources)
        return program

    @property
    def graph(self) -> fx.Graph:
        return self.traced.graph

    def run(
        self,
        source_values: tuple[torch.Tensor, ...],
        observe: Observer | None = None,
        watched: frozenset[str] | None = frozenset(),
        *,
        record: dict[str, Any] | None = None,
        recorded: frozenset[str] = frozenset(),
        frozen: dict[str, Any] | None = None,
    ) -> Any:
        """The graph's output with ``source_values`` at the sources; ``observe(key,
        value)`` sees every watched value (``None``: all of them). ``record`` receives
        ``(args, kwargs, value)`` of the ``recorded`` nodes; nodes in ``frozen`` run
        linearised at such a record (:func:`analyzer.empirical.lines.linearised`)."""
        overrides = dict(zip(self.sources, source_values, strict=True))
        return self.run_with(overrides, observe, watched, record, recorded, frozen)

    def run_with(
        self,
        overrides: dict[fx.Node, Any],
        observe: Observer | None,
        watched: frozenset[str] | None,
        record: dict[str, Any] | None = None,
        recorded: frozenset[str] = frozenset(),
        frozen: dict[str, Any] | None = None,
    ) -> Any:
        with self._seeded():
            runner = _Runner(self, self.traced.graph_module, overrides, observe, watched)
            runner.record, runner.recorded, runner.frozen = record, recorded, frozen or {}
            return runner.run(*self.placeholder_args)

    def outputs(self, source_values: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """The real-valued outputs, flattened into a tuple."""
        return floating_leaves(self.run(source_values))

    @contextlib.contextmanager
    def _seeded(self) -> Iterator[None]:
        """Every run draws the same random numbers, and a factory without a dtype
        (``torch.zeros(n)``, ``full(…, x.item())``) makes float64 like everything else."""
        devices = [self.device] if self.device.type == "cuda" else []
        default = torch.get_default_dtype()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            torch.set_default_dtype(torch.float64)
            try:
                yield
            finally:
                torch.set_default_dtype(default)

    def attribute(self, module: torch.nn.Module, target: str) -> Any:
        """A ``get_attr`` value (a lifted constant) as float64 on the device, copied once."""
        key = f"{id(module)}:{target}"
        if key not in self._attributes:
            value: Any = module
            for part in target.split("."):
                value = getattr(value, part)
            self._attributes[key] = float64_copy(value, self.device)
        return self._attributes[key]

    def call(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one node: its explicit implementation or op, else a recorded fallback."""
        chosen = self.fallbacks.get(node)
        function = EXPLICIT.get(node.target) or EXPLICIT_BY_NAME.get(op_name(node))
        if chosen is None and function is None and not trusted(node.target):
            chosen = self.fallbacks[node] = Fallback(
                "finite differences", finite_difference(node.target)
            )
        if chosen is not None:
            return chosen.function(*args, **kwargs)
        function = function or node.target
        if function is node.target and isinstance(node.target, torch._ops.OpOverload):
            if node.target._overloadname.endswith("out"):  # out=: the value, not the write
                function = out_of_place(node.target) or function
        try:
            return function(*args, **kwargs)
        except Exception as error:
            if function is not node.target and "vmap" in str(error):
                # an explicit implementation that reads values (group sizes) under vmap: the
                # samples run one at a time instead (the batcher's loop), never a fallback
                raise NodeError(node, error) from error
            for fallback in fallbacks_for(node):
                try:
                    value = fallback.function(*args, **kwargs)
                except Exception:
                    continue
                self.fallbacks[node] = fallback
                return value
            raise NodeError(node, error) from error

    def call_node(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one call node on its own (higher-order ops included), outside a run."""
        runner = _Runner(self, self.traced.graph_module, {}, None, frozenset())
        runner.levels = []
        return runner._call(node, args, kwargs)

    def fallback_notes(self) -> list[str]:
        """One line per op that ran through a fallback, for the report."""
        by_op: dict[tuple[str, str], list[str]] = {}
        for node, fallback in self.fallbacks.items():
            by_op.setdefault((op_name(node), fallback.how), []).append(node.name)
        return [
            f"{op} ran through {how} ({len(nodes)} node{'s' * (len(nodes) > 1)}: "
            f"{', '.join(nodes[:3])}{' …' if len(nodes) > 3 else ''})"
            for (op, how), nodes in sorted(by_op.items())
        ]


class NodeError(Exception):
    """A node failed in every way it can run; carries the node for the message."""

    def __init__(self, node: fx.Node, error: BaseException) -> None:
        self.node, self.error = node, error
        trace = node.meta.get("stack_trace") or ""
        where = trace.strip().splitlines()[-1].strip() if trace.strip() else ""
        super().__init__(
            f"running {op_name(node)} (node {node.name}) failed: {type(error).__name__}: "
            f"{_first_line(error)}" + (f" (from: {where})" if where else "")
        )


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else repr(error)


class _Runner(fx.Interpreter):
    """One run of a graph: overrides at the sources, float64 retargeting, observation."""

    def __init__(
        self,
        program: Program,
        module: fx.GraphModule,
        overrides: dict[fx.Node, Any],
        observe: Observer | None,
        watched: frozenset[str] | None,
    ) -> None:
        super().__init__(module)
        self.program, self.overrides = program, overrides
        self.observe, self.watched = observe, watched
        self.record: dict[str, Any] | None = None
        self.recorded: frozenset[str] = frozenset()
        self.frozen: dict[str, Any] = {}

    def run_node(self, node: fx.Node) -> Any:
        if node in self.overrides:
            if node.op == "placeholder":
                super().run_node(node)  # consume its argument: the next placeholder's is next
            value = self.overrides[node]
            if node.name in self.program.written:  # the model writes into its input
                value = value.clone()
        elif node.op == "get_attr":
            value = self.program.attribute(self.module, str(node.target))
            if node.name in self.program.written:
                value = value.clone()
        elif node.op == "placeholder" and node.name in self.program.written:
            value = super().run_node(node).clone()  # each run starts from the same weights
        elif node.op == "call_function" and op_name(node).startswith(_SKIPPED):
            return None  # shape/dtype assertions: nothing to compute, and vmap-hostile
        elif node.op == "call_function":
            args, kwargs = self.fetch_args_kwargs_from_env(node)
            args, kwargs = retarget((args, kwargs), self.program.device)
            if node.name in self.frozen:

                def call(*a: Any, **k: Any) -> Any:
                    return self._call(node, a, k)

                value = linearised(call, self.frozen[node.name], args, kwargs)
            else:
                value = self._call(node, args, kwargs)
            if self.record is not None and node.name in self.recorded:
                self.record[node.name] = (args, kwargs, getattr(value, "value", value))
        else:
            value = super().run_node(node)
        if isinstance(value, WithInner):
            inner, value = value.inner, value.value
            if self.observe is not None:
                for name, tensor in inner.items():
                    self._report(f"{node.name}.{name}", tensor)
        if self.observe is not None and node.op != "output" and node not in self.program.opaque:
            self._report(node.name, value)
        return value

    def _report(self, key: str, value: Any) -> None:
        if self.watched is None or key in self.watched:
            assert self.observe is not None
            self.observe(key, value)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.levels: list[int] = []  # functorch levels the model's own vmap opened
        try:
            return super().run(*args, **kwargs)
        finally:
            while self.levels:  # a failure inside the model's vmap must not leave it open
                self.levels.pop()
                torch._C._functorch._vmap_decrement_nesting()

    def _call(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if isinstance(node.target, torch._ops.HigherOrderOperator):
            return self._higher_order(node, args, kwargs)
        if getattr(node.target, "__module__", "") == "torch._functorch.predispatch":
            try:
                return model_vmap(node.target.__name__, args, self.levels)
            except (ValueError, NotImplementedError) as error:
                raise NodeError(node, error) from error
        if not isinstance(node.target, torch._ops.OpOverload):
            return node.target(*args, **kwargs)  # getitem, Python arithmetic on sizes
        try:
            return self.program.call(node, args, kwargs)
        except NodeError:
            raise
        except Exception as error:
            raise NodeError(node, error) from error

    def _higher_order(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Control-flow and context wrappers: run their bodies with this executor; a
        functionalized call of an op that writes its arguments runs on copies of them."""
        name = node.target.name()
        bodies = [i for i, a in enumerate(args) if isinstance(a, fx.GraphModule)]
        if name in _SUBGRAPH_OPS and bodies:
            body = bodies[0]
            return self._body(args[body], args[body + 1 :])
        if name == "cond" and len(bodies) == 2:
            predicate, operands = args[0], args[3]
            branch = args[1] if bool(predicate) else args[2]
            return self._body(branch, tuple(operands))
        if name == "while_loop" and len(bodies) == 2:
            return self._while_loop(node, *args)
        if name in _FUNCTIONALIZED:
            function = functionalized(name, args[0])
            if not trusted(args[0]):  # a torch.library op may return no tangent
                function = finite_difference(function)
                self.program.fallbacks[node] = Fallback("finite differences", function)
            try:
                return function(**kwargs)
            except Exception as error:
                raise NodeError(node, error) from error
        raise NodeError(node, NotImplementedError(f"higher-order op {name} is not supported"))

    def _while_loop(
        self,
        node: fx.Node,
        condition: fx.GraphModule,
        body: fx.GraphModule,
        carried: tuple[Any, ...],
        extra: tuple[Any, ...] = (),
    ) -> tuple[Any, ...]:
        """``while cond(*carried, *extra): carried = body(*carried, *extra)``: the
        condition is read as a Python bool at every step (a varying one makes the samples
        run one at a time)."""
        carried = tuple(carried)
        for _ in range(_MAX_ITERATIONS):
            if not bool(self._body(condition, (*carried, *extra))):
                return carried
            carried = tuple(self._body(body, (*carried, *extra)))
        raise NodeError(
            node, RuntimeError(f"while_loop ran {_MAX_ITERATIONS} steps without stopping")
        )

    def _body(self, module: fx.GraphModule, operands: tuple[Any, ...]) -> Any:
        return _Runner(self.program, module, {}, None, frozenset()).run(*operands)


_FUNCTIONALIZED = ("auto_functionalized", "auto_functionalized_v2")
_MAX_ITERATIONS = 100_000


def _placeholder_values(traced: TracedModel, placeholders: list[fx.Node]) -> list[Any]:
    """Weights from the trace, user inputs from the example inputs: every frontend makes
    one placeholder per pytree leaf, so dict and keyword inputs line up as traced."""
    leaves = pytree.tree_leaves(traced.example_inputs)
    inputs = [n for n in placeholders if n.name not in traced.placeholder_values]
    if len(inputs) != len(leaves):
        raise ExecutionError(
            f"the trace has {len(inputs)} input placeholders but the example inputs have "
            f"{len(leaves)} leaves: pass the inputs the model was traced with"
        )
    given = dict(zip(inputs, leaves, strict=True))
    return [traced.placeholder_values.get(n.name, given.get(n)) for n in placeholders]


def is_getitem(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target is operator.getitem
