"""``expand``: run a tiny traced graph on sympy symbols and read its output exactly.

Every entry of every continuous source (a float input, or a lookup by token ids) is a
symbol ``x{i}_{j}`` (input ``i``, flat entry ``j``; lookups are ``e{i}_{j}``); the
weights are the rationals their floats hold, so arithmetic is exact. Each op runs
through a rule (:mod:`analyzer.symbolic.rules`); ops on weights alone run in torch as
they are. The output is a list of exact expressions: polynomials stay polynomials
(their monomials show every cross-entry term, their degree is an exact oracle for the
static pass), ReLU becomes ``Max(0, ·)`` and smooth functions sympy functions.

Too large an instance is refused (:class:`~analyzer.errors.SpecError`, exit 2): more
than ``max_inputs`` symbols, or an op that would multiply out more than ``max_terms``
terms.

>>> import torch
>>> class Square(torch.nn.Module):
...     def forward(self, x):
...         return (x * x.flip(-1)).sum(-1)
>>> result = expand(Square(), (torch.randn(1, 2),))
>>> result.expression(0), result.degree, result.cross_terms
(2*x0_0*x0_1, 2, [x0_0*x0_1])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy
import torch
import torch.fx as fx
from torch.utils import _pytree as pytree

from analyzer.analysis import Analysis, analyze_traced
from analyzer.empirical.execute import Program
from analyzer.errors import SpecError
from analyzer.frontend.dialect import InputKind, TracedModel, op_name
from analyzer.frontend.tracing import trace
from analyzer.passes.facts import format_degree
from analyzer.passes.registry import Rule
from analyzer.passes.registry_lookup import entry_for
from analyzer.progress import SILENT, Progress
from analyzer.symbolic import recurrent, windows  # noqa: F401  (they register their rules)
from analyzer.symbolic.exact import (
    INF,
    Rat,
    Ring,
    as_expr,
    constant,
    cross_monomials,
    degree,
    is_piecewise,
    size,
)
from analyzer.symbolic.rules import RULES, Context, Withheld, non_polynomial_origin
from analyzer.symbolic.tensors import Budget, SymTensor, from_tensor, move

SCHEMA = "analyzer.expand/1"
MAX_INPUTS = 256
MAX_TERMS = 2_000_000
_WHY = {
    Rule.SELECT_TOP: ": it selects entries by comparing the input's values (top-k, sort, "
    "median), which is not a polynomial and has no exact expression here",
    Rule.COMPARE: ": its result is discrete (indices, booleans, rounding) and depends on the "
    "input's values, which no polynomial expresses",
    Rule.BATCH_NORM: ": batch norm in training mode normalises by batch statistics: "
    "analyse the model in eval mode, where it is affine",
    Rule.RECURRENT: ": a fused recurrent cell without an exact decomposition here",
}
_SKIPPED = ("aten._assert", "aten.sym_constrain", "aten._functional_assert")


@dataclass
class Expansion:
    """The exact outputs of one model instance, and what they say."""

    model: str
    symbols: list[sympy.Symbol]
    sources: list[tuple[str, list[int]]]  # (node, shape) of each continuous source
    outputs: list[Any]  # exact entries (Rat or Expr), every output flattened
    output_shapes: list[list[int]]
    degree: float
    polynomial: bool
    piecewise: bool
    cross_terms: list[sympy.Expr]
    non_polynomial: list[str]  # "node (op)" of the ops that made an output non-polynomial
    static_degree: str
    warnings: list[str] = field(default_factory=list)

    def expression(self, index: int) -> sympy.Expr:
        """Output entry ``index`` as a sympy expression (polynomials expanded)."""
        return as_expr(self.outputs[index])

    def to_json(self) -> dict[str, Any]:
        """The ``analyzer.expand/1`` document; expressions as exact sympy strings."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "symbols": [s.name for s in self.symbols],
            "outputs": [e.text() if isinstance(e, Rat) else sympy.sstr(e) for e in self.outputs],
            "degree": format_degree(self.degree),
            "cross_terms": [sympy.sstr(m) for m in self.cross_terms],
            "polynomial": self.polynomial,
            "piecewise": self.piecewise,
            "non_polynomial_ops": list(self.non_polynomial),
            "sources": [{"node": n, "shape": s} for n, s in self.sources],
            "output_shapes": list(self.output_shapes),
            "static_degree": self.static_degree,
            "warnings": list(self.warnings),
        }


class _Expander(fx.Interpreter):
    """Runs the graph with symbolic tensors at the sources; concrete ops stay concrete."""

    def __init__(
        self, traced: TracedModel, sources: dict[fx.Node, SymTensor], ring: Ring,
        budget: Budget, progress: Progress,
    ) -> None:  # fmt: skip
        assert traced.graph_module is not None
        super().__init__(traced.graph_module)
        self.sources, self.ring, self.budget = sources, ring, budget
        self.progress = progress
        self.memo: dict[sympy.Basic, int] = {}
        self.task: Any = None

    def run_node(self, node: fx.Node) -> Any:
        if self.task is not None:
            self.task.advance()
        if node in self.sources:
            return self.sources[node]
        if node.op == "call_function" and op_name(node).startswith(_SKIPPED):
            return None
        if node.op not in ("call_function", "call_method"):
            return super().run_node(node)
        args, kwargs = self.fetch_args_kwargs_from_env(node)
        leaves = pytree.tree_leaves((args, kwargs))
        withheld = [leaf for leaf in leaves if isinstance(leaf, Withheld)]
        if withheld and op_name(node) != "operator.getitem":
            raise SpecError(f"expand: {node.name} ({op_name(node)}) reads {withheld[0].reason}")
        if not any(isinstance(leaf, (SymTensor, Withheld)) for leaf in leaves):
            return super().run_node(node)
        value = self._symbolic(node, args, kwargs)
        operands = [leaf for leaf in leaves if isinstance(leaf, SymTensor)]
        origins = non_polynomial_origin(node, operands, value)
        for result in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(result, SymTensor):
                # a number (relu(x)**0, exp(0)) is a polynomial again: keep the fast path
                result.entries = [
                    constant(e, self.ring) if isinstance(e, sympy.Rational) else e
                    for e in result.entries
                ]
                result.origins = origins
                self._check_size(node, result)
        return value

    def _symbolic(self, node: fx.Node, args: tuple, kwargs: dict) -> Any:
        name = op_name(node)
        if name == "operator.getitem":
            return args[0][args[1]]
        context = Context(self.ring, self.budget, node)
        if name in RULES:
            return RULES[name](context, args, kwargs)
        entry = entry_for(node)
        if entry is not None and entry.rule in (Rule.STRUCTURAL, Rule.LOOKUP):
            fill = None
            if name in ("aten.fill", "aten.fill_", "aten.new_full", "aten.full_like"):
                return self._concrete(node, args, kwargs)
            if name == "aten.constant_pad_nd" and len(args) > 2:
                fill = context.const(args[2])
            return move(node.target, args, kwargs, self.ring, fill)
        if entry is not None and entry.rule is Rule.STATIC:
            return self._concrete(node, args, kwargs)
        raise SpecError(
            f"expand has no rule for {name} (node {node.name}), which the input reaches"
            f"{_WHY.get(entry.rule, '') if entry is not None else ''}; expand covers "
            "contractions and convolutions, elementwise arithmetic, pow, ReLU-like and "
            "smooth functions, pooling, cumulative sums and products, softmax and norms, "
            "fused RNN/LSTM/GRU layers, and every data movement"
        )

    def _concrete(self, node: fx.Node, args: tuple, kwargs: dict) -> Any:
        """Shape-only ops (zeros_like, sizes): run them on zeros of the same shape."""

        def zeros(leaf: Any) -> Any:
            return torch.zeros(leaf.shape) if isinstance(leaf, SymTensor) else leaf

        args, kwargs = pytree.tree_map(zeros, (args, kwargs))
        return getattr(self, node.op)(node.target, args, kwargs)

    def _check_size(self, node: fx.Node, result: SymTensor) -> None:
        grown = sum(size(e, self.memo) for e in result.entries)
        if grown > self.budget.limit:
            raise SpecError(
                f"expand: {node.name} ({op_name(node)}) holds expressions of {grown:,} terms "
                f"in all, past the limit of {self.budget.limit:,} (--max-terms): expand a "
                "smaller instance or raise the limit"
            )


def expand(
    module: Any,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    max_inputs: int = MAX_INPUTS,
    max_terms: int = MAX_TERMS,
    progress: Progress = SILENT,
) -> Expansion:
    """Trace ``module`` on its example inputs and expand the traced graph exactly.

    The model must hold real weights (not ``meta``); its example inputs fix the
    instance's sizes. Raises :class:`SpecError` for too large an instance.
    """
    traced = trace(module, example_args, model=model, example_kwargs=example_kwargs)
    return expand_traced(
        analyze_traced(traced), max_inputs=max_inputs, max_terms=max_terms, progress=progress
    )


def expand_traced(
    analysis: Analysis,
    *,
    max_inputs: int = MAX_INPUTS,
    max_terms: int = MAX_TERMS,
    progress: Progress = SILENT,
) -> Expansion:
    """Expand an analysed, traced model (its graph module and weights are needed)."""
    if max_inputs < 1 or max_terms < 1:
        raise SpecError("--max-inputs and --max-terms must be at least 1")
    traced = analysis.traced
    if traced.graph_module is None:
        raise SpecError("a stored trace has no weights to expand: give the model spec")
    _check_real_weights(traced)
    with torch.no_grad():
        program = Program.of(traced)
    shapes = [(n.name, list(v.shape)) for n, v in zip(program.sources, program.source_values,
                                                       strict=True)]  # fmt: skip
    count = sum(math.prod(s) for _, s in shapes)
    if count > max_inputs:
        listed = ", ".join(f"{n} {s}" for n, s in shapes)
        raise SpecError(
            f"expand: the continuous inputs have {count} entries ({listed}), more than the "
            f"limit of {max_inputs} symbols (--max-inputs): give smaller inputs with --input"
        )
    if count == 0:
        raise SpecError("expand: the model has no continuous input to make symbols of")
    names = _symbol_names(traced, program.sources, program.source_values)
    ring = Ring(sympy.symbols(names))
    generators, symbols = ring.generators(), list(ring.symbols)
    sources, offset = {}, 0
    for node, value in zip(program.sources, program.source_values, strict=True):
        entries = generators[offset : offset + value.numel()]
        sources[node] = SymTensor(tuple(value.shape), entries)
        offset += value.numel()
    interpreter = _Expander(traced, sources, ring, Budget(max_terms), progress)
    nodes = len(traced.graph.nodes)
    with torch.no_grad(), progress.task("expanding on sympy symbols", total=nodes) as task:
        interpreter.task = task
        try:
            result = interpreter.run(*program.placeholder_args)
        except SpecError as error:  # fx adds the node's listing: the message names it already
            raise SpecError(str(error).split("\n\nWhile executing")[0]) from None
    outputs, output_shapes, origins = _flatten_outputs(result, ring)
    with progress.task("reading degrees and monomials"):
        degrees = [degree(e, frozenset(symbols)) for e in outputs]
        cross_terms = cross_monomials(outputs)
    polynomial = all(isinstance(e, Rat) for e in outputs)
    return Expansion(
        model=traced.model,
        symbols=symbols,
        sources=shapes,
        outputs=outputs,
        output_shapes=output_shapes,
        degree=max(degrees, default=0),
        polynomial=polynomial,
        piecewise=any(is_piecewise(e) for e in outputs),
        cross_terms=cross_terms,
        non_polynomial=[] if polynomial else sorted(origins),
        static_degree=analysis.degree,
        warnings=list(analysis.warnings),
    )


def _check_real_weights(traced: TracedModel) -> None:
    for name, value in traced.placeholder_values.items():
        if isinstance(value, torch.Tensor) and value.device.type == "meta":
            raise SpecError(
                f"expand needs the model's weights, but {name} is on the meta device: "
                "build it on cpu (--device cpu)"
            )


def _symbol_names(
    traced: TracedModel, sources: list[fx.Node], values: tuple[torch.Tensor, ...]
) -> list[str]:
    """``x{i}_{j}`` for input ``i``'s flat entry ``j``; ``e{i}_{j}`` for lookups."""
    inputs = [
        n for n in traced.graph.nodes
        if n.op == "placeholder" and traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    names, lookups = [], 0
    for node, value in zip(sources, values, strict=True):
        if node in inputs:
            prefix = f"x{inputs.index(node)}"
        else:
            prefix, lookups = f"e{lookups}", lookups + 1
        names.extend(f"{prefix}_{j}" for j in range(value.numel()))
    return names


def _flatten_outputs(result: Any, ring: Ring) -> tuple[list[Any], list[list[int]], set[str]]:
    entries: list[Any] = []
    shapes: list[list[int]] = []
    origins: set[str] = set()
    for leaf in pytree.tree_leaves(result):
        if isinstance(leaf, Withheld):
            raise SpecError(f"expand: the model returns what {leaf.reason}")
        if isinstance(leaf, torch.Tensor):
            if not leaf.is_floating_point():
                continue
            leaf = from_tensor(leaf, ring)
        if isinstance(leaf, SymTensor):
            entries.extend(leaf.entries)
            shapes.append(list(leaf.shape))
            origins |= leaf.origins
    return entries, shapes, origins


def degree_agrees(expansion: Expansion) -> bool:
    """Whether the exact degree equals the static pass's (``inf`` equals ``inf``)."""
    exact = "inf" if expansion.degree == INF else str(int(expansion.degree))
    return exact == expansion.static_degree
