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
3. when that raises under differentiation or batching: PyTorch's decomposition of the
   op, then (for integer outputs, which have no derivative) the op on detached inputs,
   then a central finite difference wrapped as the op's ``jvp``: each fallback is
   recorded in :attr:`Program.fallbacks` and named in the report.

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
from torch._decomp import decomposition_table
from torch.func import jvp

from analyzer.empirical.ops import EXPLICIT, WithInner
from analyzer.errors import TraceError
from analyzer.frontend.dialect import InputKind, TracedModel, op_name, tensor_operands

Observer = Callable[[str, Any], None]
_SKIPPED = ("aten._assert", "aten.sym_constrain", "aten._functional_assert", "aten._check")
_LOOKUPS = {  # op -> position of the table it reads
    "aten.embedding": 0,
    "aten.index": 0,
    "aten._unsafe_index": 0,
    "aten.index_select": 0,
    "aten.gather": 0,
    "aten.take": 0,
    "aten.take_along_dim": 0,
}
_SUBGRAPH_OPS = ("wrap_with_set_grad_enabled", "wrap_with_autocast", "invoke_subgraph")
FINITE_DIFFERENCE_STEP = 1e-6


class ExecutionError(TraceError):
    """The traced graph could not be run or differentiated (exit code 3)."""


@dataclass(frozen=True)
class Fallback:
    """How a node runs when its op fails under differentiation or batching."""

    how: str  # "decomposition" | "detached (integer output)" | "finite differences"
    function: Callable[..., Any] = field(repr=False)


def _float64(value: Any, device: torch.device) -> Any:
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


def retarget(value: Any, device: torch.device) -> Any:
    """Float dtypes written into the graph become float64; devices become ``device``."""

    def one(item: Any) -> Any:
        if isinstance(item, torch.dtype):
            if item.is_complex:
                return torch.complex128
            if item.is_floating_point:
                return torch.float64
        if isinstance(item, torch.device):
            return device
        return item

    return fx.node.map_aggregate(value, one)


def main_tensor(value: Any) -> torch.Tensor | None:
    """The tensor a node computes: itself, or the first of a tuple (a fused norm's output)."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return value if isinstance(value, torch.Tensor) else None


def is_real_valued(value: torch.Tensor) -> bool:
    return value.is_floating_point() or value.is_complex()


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
        args = tuple(_float64(v, device) for v in _placeholder_values(traced, placeholders))
        sources = continuous_sources(traced)
        program = Program(traced, device, sources, (), args, _reachable(traced, sources), {}, seed)
        program.written = _written_placeholders(traced.graph)
        program.opaque = _inside_model_vmap(traced.graph)
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
            self._attributes[key] = _float64(value, self.device)
        return self._attributes[key]

    def call(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one node: its explicit implementation or op, else a recorded fallback."""
        chosen = self.fallbacks.get(node)
        if chosen is None and not _trusted(node.target):
            chosen = self.fallbacks[node] = Fallback(
                "finite differences", _finite_difference(node.target)
            )
        if chosen is not None:
            return chosen.function(*args, **kwargs)
        function = EXPLICIT.get(node.target, node.target)
        if function is node.target and isinstance(node.target, torch._ops.OpOverload):
            if node.target._overloadname.endswith("out"):  # out=: the value, not the write
                function = out_of_place(node.target) or function
        try:
            return function(*args, **kwargs)
        except Exception as error:
            for fallback in _fallbacks(node):
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


def floating_leaves(value: Any) -> tuple[torch.Tensor, ...]:
    leaves = pytree.tree_leaves(value)
    return tuple(t for t in leaves if isinstance(t, torch.Tensor) and is_real_valued(t))


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
            return self._higher_order(node, args)
        if getattr(node.target, "__module__", "") == "torch._functorch.predispatch":
            return self._model_vmap(node, args)
        if not isinstance(node.target, torch._ops.OpOverload):
            return node.target(*args, **kwargs)  # getitem, Python arithmetic on sizes
        try:
            return self.program.call(node, args, kwargs)
        except NodeError:
            raise
        except Exception as error:
            raise NodeError(node, error) from error

    def _higher_order(self, node: fx.Node, args: tuple[Any, ...]) -> Any:
        """Control-flow and context wrappers: run their bodies with this executor."""
        name = node.target.name()
        bodies = [i for i, a in enumerate(args) if isinstance(a, fx.GraphModule)]
        if name in _SUBGRAPH_OPS and bodies:
            body = bodies[0]
            return self._body(args[body], args[body + 1 :])
        if name == "cond" and len(bodies) == 2:
            predicate, operands = args[0], args[3]
            branch = args[1] if bool(predicate) else args[2]
            return self._body(branch, tuple(operands))
        raise NodeError(node, NotImplementedError(f"higher-order op {name} is not supported"))

    def _model_vmap(self, node: fx.Node, args: tuple[Any, ...]) -> Any:
        """A ``torch.func.vmap`` inside the model, traced as level-numbered calls: its
        levels are renumbered above the ones validate's own transforms occupy."""
        import torch._functorch.predispatch as predispatch

        name = node.target.__name__
        if name == "lazy_load_decompositions":
            return predispatch.lazy_load_decompositions()
        if name == "_vmap_increment_nesting":
            self.levels.append(predispatch._vmap_increment_nesting(*args))
            return self.levels[-1]
        if name == "_vmap_decrement_nesting":
            self.levels.pop()
            return predispatch._vmap_decrement_nesting()
        if name == "_unwrap_for_grad" and not self.levels:
            return args[0]  # a grad level the trace never opened: nothing to unwrap
        if name in ("_add_batch_dim", "_remove_batch_dim"):
            level = args[2] if name == "_add_batch_dim" else args[1]
            if not isinstance(level, int) or not 1 <= level <= len(self.levels):
                raise NodeError(node, ValueError(f"vmap level {level} was never opened"))
            actual = self.levels[level - 1]
            if name == "_add_batch_dim":
                return predispatch._add_batch_dim(args[0], args[1], actual)
            return predispatch._remove_batch_dim(args[0], actual, *args[2:])
        raise NodeError(
            node, NotImplementedError(f"{name}: a functorch transform inside the model")
        )

    def _body(self, module: fx.GraphModule, operands: tuple[Any, ...]) -> Any:
        return _Runner(self.program, module, {}, None, frozenset()).run(*operands)


def linearised(
    function: Callable[..., Any], centre: tuple[Any, Any, Any], args: Any, kwargs: Any
) -> Any:
    """``f(z₀) + J_f(z₀)·(z − z₀)`` for the floating arguments; an integer-valued result
    keeps its centre value."""
    (centre_args, centre_kwargs), centre_value = centre[:2], centre[2]
    leaves, spec = pytree.tree_flatten((args, kwargs))
    centre_leaves = pytree.tree_leaves((centre_args, centre_kwargs))
    moving = [i for i, a in enumerate(leaves) if isinstance(a, torch.Tensor) and is_real_valued(a)]
    if not moving or all(not is_real_valued(t) for t in _tensors(centre_value)):
        return centre_value

    out_leaves, out_spec = pytree.tree_flatten(centre_value)
    floating = [
        i for i, t in enumerate(out_leaves) if isinstance(t, torch.Tensor) and is_real_valued(t)
    ]

    def at(*values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        filled = list(centre_leaves)
        for i, value in zip(moving, values, strict=True):
            filled[i] = value
        a, k = pytree.tree_unflatten(filled, spec)
        value = function(*a, **k)
        produced = pytree.tree_leaves(getattr(value, "value", value))
        return tuple(produced[i] for i in floating)

    points = tuple(centre_leaves[i] for i in moving)
    steps = tuple(leaves[i] - centre_leaves[i] for i in moving)
    _, change = jvp(at, points, steps)
    result = list(out_leaves)
    for i, delta in zip(floating, change, strict=True):
        result[i] = out_leaves[i] + delta
    return pytree.tree_unflatten(result, out_spec)


def _tensors(value: Any) -> list[torch.Tensor]:
    leaves = pytree.tree_leaves(value)
    return [t for t in leaves if isinstance(t, torch.Tensor)]


def out_of_place(target: Any) -> Any:
    """The functional form of an op that writes: ``aten.div.Tensor`` for
    ``aten.div_.Tensor``, the op's packet (without ``out=``) for ``aten.mul.out``;
    ``None`` for ops that write nothing."""
    if not isinstance(target, torch._ops.OpOverload):
        return None
    if target._overloadname == "out" or target._overloadname.endswith("_out"):
        packet = target.overloadpacket
        return lambda *args, out=None, **kwargs: packet(*args, **kwargs)
    name = target.overloadpacket.__name__
    if not name.endswith("_") or name.startswith("_"):
        return None
    packet = getattr(torch.ops.aten, name[:-1], None)
    return getattr(packet, target._overloadname, None) if packet is not None else None


def _writes(target: Any) -> bool:
    """Whether an op writes into one of its arguments (in place, or ``out=``)."""
    schema = getattr(target, "_schema", None)
    return schema is not None and any(
        a.alias_info is not None and a.alias_info.is_write for a in schema.arguments
    )


def _trusted(target: Any) -> bool:
    """Whether forward-mode AD of an op can be trusted: aten and prims ops have
    derivative formulas or fail loudly; an op from another library's namespace (a
    ``torch.library`` custom op) may silently return no tangent, so it runs through
    finite differences."""
    namespace = getattr(target, "namespace", "aten")
    return namespace in ("aten", "prims")


def _fallbacks(node: fx.Node) -> Iterator[Fallback]:
    target = node.target
    if target in decomposition_table:
        yield Fallback("decomposition", decomposition_table[target])
    functional = out_of_place(target)
    if functional is not None:
        yield Fallback("its functional form (the write into its argument not replayed)",
                       functional)  # fmt: skip
    recorded = node.meta.get("val")
    leaves = [t for t in pytree.tree_leaves(recorded) if isinstance(t, torch.Tensor)]
    if leaves and not any(is_real_valued(t) for t in leaves):

        def detached(*args: Any, **kwargs: Any) -> Any:
            plain = pytree.tree_map_only(torch.Tensor, lambda t: t.detach(), (args, kwargs))
            return target(*plain[0], **plain[1])

        yield Fallback("detached (integer output)", detached)
    if not _writes(target):  # a difference of two writes into one buffer would be 0
        yield Fallback("finite differences", _finite_difference(target))


def _finite_difference(target: Callable[..., Any]) -> Callable[..., Any]:
    """``target`` whose derivative is a central finite difference (step
    :data:`FINITE_DIFFERENCE_STEP` along the tangent): for ops with no derivative at all."""

    def call(*args: Any, **kwargs: Any) -> Any:
        leaves, spec = pytree.tree_flatten((args, kwargs))
        positions = [i for i, x in enumerate(leaves) if isinstance(x, torch.Tensor)]
        tensors = [leaves[i] for i in positions]

        def rebuilt(values: tuple[torch.Tensor, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            filled = list(leaves)
            for i, value in zip(positions, values, strict=True):
                filled[i] = value
            return pytree.tree_unflatten(filled, spec)

        def function(*values: torch.Tensor) -> Any:
            a, k = rebuilt(values)
            return target(*a, **k)

        return _FiniteDifference.apply(function, *tensors)

    return call


class _FiniteDifference(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(function: Callable[..., Any], *tensors: torch.Tensor) -> Any:  # type: ignore[override]
        return function(*tensors)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.function = inputs[0]
        ctx.save_for_forward(*inputs[1:])

    @staticmethod
    def jvp(ctx: Any, _function: Any, *tangents: torch.Tensor | None) -> Any:  # type: ignore[override]
        step = FINITE_DIFFERENCE_STEP
        tensors = ctx.saved_tensors
        plus = [
            x + step * t if t is not None and is_real_valued(x) else x
            for x, t in zip(tensors, tangents, strict=True)
        ]
        minus = [
            x - step * t if t is not None and is_real_valued(x) else x
            for x, t in zip(tensors, tangents, strict=True)
        ]
        high = _FiniteDifference.apply(ctx.function, *plus)
        low = _FiniteDifference.apply(ctx.function, *minus)
        return pytree.tree_map(
            lambda h, lo: (
                (h - lo) / (2 * step) if isinstance(h, torch.Tensor) and is_real_valued(h) else None
            ),
            high,
            low,
        )

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:  # pragma: no cover - validate never reverses
        raise RuntimeError("finite-difference fallbacks support forward mode only")


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


def _inside_model_vmap(graph: fx.Graph) -> frozenset[fx.Node]:
    """Nodes computed inside a ``torch.func.vmap`` of the model itself: their values are
    batched at a level that is closed once the region ends, so they are not watched."""
    inside, depth = set(), 0
    for node in graph.nodes:
        name = getattr(node.target, "__name__", "")
        module = getattr(node.target, "__module__", "")
        if module == "torch._functorch.predispatch" and name == "_vmap_increment_nesting":
            depth += 1
        elif module == "torch._functorch.predispatch" and name == "_vmap_decrement_nesting":
            depth -= 1
        elif depth > 0 and name != "_remove_batch_dim":
            inside.add(node)
    return frozenset(inside)


def _written_placeholders(graph: fx.Graph) -> frozenset[str]:
    """Placeholders and constants that an in-place op writes into, through views."""
    written = set()
    for node in graph.nodes:
        schema = getattr(node.target, "_schema", None)
        if node.op != "call_function" or schema is None:
            continue
        for position, spec in enumerate(schema.arguments):
            if spec.alias_info is None or not spec.alias_info.is_write:
                continue
            target = (
                node.args[position] if position < len(node.args) else node.kwargs.get(spec.name)
            )
            while isinstance(target, fx.Node) and target.op == "call_function":
                inner = getattr(target.target, "_schema", None)
                returns = inner.returns if inner is not None else ()
                if not returns or returns[0].alias_info is None or not target.args:
                    break
                target = target.args[0]  # a view: follow it to what it views
            if isinstance(target, fx.Node) and target.op in ("placeholder", "get_attr"):
                written.add(target.name)
    return frozenset(written)


def continuous_sources(traced: TracedModel) -> list[fx.Node]:
    """Floating user inputs and lookups of input-free tables by input-reached indices."""
    inputs = [
        n for n in traced.graph.nodes
        if n.op == "placeholder" and traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    reached = _reachable(traced, inputs)
    sources = []
    for node in traced.graph.nodes:
        recorded = main_tensor(node.meta.get("val"))
        floating = recorded is not None and is_real_valued(recorded)
        if node in inputs:
            if floating:
                sources.append(node)
            continue
        position = _LOOKUPS.get(op_name(node))
        if position is None or not floating:
            continue
        table = node.args[position] if position < len(node.args) else None
        if (
            isinstance(table, fx.Node) and table not in reached
            and any(i in reached for i in tensor_operands(node) if i is not table)
        ):  # fmt: skip
            sources.append(node)
    return sources


def _reachable(traced: TracedModel, starts: list[fx.Node]) -> frozenset[fx.Node]:
    """Every node a path of arguments leads to from ``starts`` (fx order is topological)."""
    reached = set(starts)
    for node in traced.graph.nodes:
        if node not in reached and any(o in reached for o in tensor_operands(node)):
            reached.add(node)
    return frozenset(reached)


def is_getitem(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target is operator.getitem
