"""``cost``: a model's multiply-adds as formulas in symbolic dimensions.

The model is exported with the ``--dim`` axes dynamic, analysed once, and each node's
multiply-adds (:mod:`analyzer.symbolic.formulas`) are summed — once, at the end — per
primitive class, per site kind, and into the split that answers the seed's question:
**static contractions** (a contraction that is not an input-by-input site: one operand
is static, ``W·x``) against **dynamic contractions** (the ``contraction`` sites:
``Q·Kᵀ``, ``A·V``). ``solve=True`` adds, per dimension, the sizes where the two are
equal: past them dynamic weights cost more than static ones.

>>> import torch
>>> from analyzer.frontend.zoo import build_zoo_model
>>> report = cost(*build_zoo_model("hopfield"), ["seq=N"], solve=True)
>>> report.dynamic_contraction, report.static_contraction, report.crossover
(64*N**2, 1536*N, {'seq': [24]})
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy
import torch.fx as fx

from analyzer.analysis import Analysis, analyze_traced
from analyzer.errors import SpecError, TraceError
from analyzer.frontend.dialect import TracedModel, op_name
from analyzer.frontend.tracing import trace
from analyzer.passes.facts import SITE_KINDS
from analyzer.passes.registry import Rule
from analyzer.passes.registry_lookup import entry_for
from analyzer.progress import SILENT, Progress
from analyzer.symbolic import dims as dimspec
from analyzer.symbolic.formulas import CONTRACTION_RULES, node_parts
from analyzer.symbolic.symbols import ShapeReader, renames_from_inputs, symbol

SCHEMA = "analyzer.cost/1"


@dataclass(frozen=True)
class NodeCost:
    """One node's multiply-adds: the total, its parts (fused ops), and how it counts."""

    node: str
    op: str
    cls: str
    macs: sympy.Expr
    parts: dict[str, sympy.Expr]
    static_contraction: sympy.Expr
    dynamic_contraction: sympy.Expr
    counted: bool  # False: a contraction with no formula (reported in `uncounted`)


@dataclass
class CostReport:
    """Every formula of one model, and what the JSON and the text output show."""

    model: str
    dims: dict[str, str]  # label (seq, x:1) -> symbol name
    example_sizes: dict[str, int]  # symbol name -> the size traced with
    ranges: dict[str, tuple[int, int]]
    nodes: list[NodeCost]
    total: sympy.Expr
    by_class: dict[str, sympy.Expr]
    by_site_kind: dict[str, sympy.Expr]
    static_contraction: sympy.Expr
    dynamic_contraction: sympy.Expr
    crossover: dict[str, list[sympy.Expr]]
    uncounted: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def symbols(self) -> list[sympy.Symbol]:
        """The dimension symbols, in ``--dim`` order, without repeats."""
        return [symbol(name) for name in dict.fromkeys(self.dims.values())]

    def at(self, expression: sympy.Expr, sizes: dict[str, int]) -> int:
        """``expression`` at concrete sizes (``{"N": 128}``; missing ones at their
        example size)."""
        values = {**self.example_sizes, **sizes}
        return int(expression.xreplace({symbol(k): sympy.Integer(v) for k, v in values.items()}))

    def leading(self, expression: sympy.Expr) -> sympy.Expr:
        """The terms of highest total degree in the dimensions."""
        return leading_term(expression, self.symbols)

    def to_json(self) -> dict[str, Any]:
        """The ``analyzer.cost/1`` document; every expression is a sympy string."""
        text = sympy.sstr
        return {
            "schema": SCHEMA,
            "model": self.model,
            "dims": dict(self.dims),
            "total": text(self.total),
            "by_class": {k: text(v) for k, v in self.by_class.items()},
            "by_site_kind": {k: text(v) for k, v in self.by_site_kind.items()},
            "static_contraction": text(self.static_contraction),
            "dynamic_contraction": text(self.dynamic_contraction),
            "crossover": {k: [text(v) for v in vs] for k, vs in self.crossover.items()},
            "leading": {
                name: text(self.leading(getattr(self, name)))
                for name in ("total", "static_contraction", "dynamic_contraction")
            },
            "per_node": [_node_json(n) for n in self.nodes],
            "example_sizes": dict(self.example_sizes),
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "uncounted": list(self.uncounted),
            "units": "multiply-adds for contractions (FLOPs / 2); element operations otherwise",
            "warnings": list(self.warnings),
        }


def _node_json(node: NodeCost) -> dict[str, Any]:
    document: dict[str, Any] = {
        "node": node.node, "op": node.op, "class": node.cls, "macs": sympy.sstr(node.macs),
    }  # fmt: skip
    if len(node.parts) > 1 or "" not in node.parts:
        document["parts"] = {k: sympy.sstr(v) for k, v in node.parts.items()}
    return document


def leading_term(expression: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """The terms of ``expression`` of highest total degree in ``symbols`` (the whole
    expression when it is not a polynomial in them).

    >>> n = sympy.Symbol("n")
    >>> leading_term(3 * n**2 + 5 * n + 7, [n])
    3*n**2
    """
    if not symbols or expression == 0:
        return expression
    try:
        poly = sympy.Poly(expression, *symbols)
    except sympy.PolynomialError:
        return expression
    top = poly.total_degree()
    terms = [
        coefficient * sympy.Mul(*(s**e for s, e in zip(symbols, monomial, strict=True)))
        for monomial, coefficient in poly.terms() if sum(monomial) == top
    ]  # fmt: skip
    return sympy.Add(*terms)


def crossovers(
    static: sympy.Expr, dynamic: sympy.Expr, dims: dict[str, str]
) -> dict[str, list[sympy.Expr]]:
    """Per dimension, the positive sizes where dynamic contractions cost as much as
    static ones (``sympy.solve``; other dimensions stay symbols).

    >>> n = symbol("N")
    >>> crossovers(12 * n, 2 * n**2, {"seq": "N"})
    {'seq': [6]}
    """
    found: dict[str, list[sympy.Expr]] = {}
    difference = sympy.expand(dynamic - static)
    for label, name in dims.items():
        unknown = symbol(name)
        if difference == 0 or unknown not in difference.free_symbols:
            found[label] = []
            continue
        # solved over the positive reals: a crossover need not be a whole size
        real = sympy.Symbol(name, positive=True)
        try:
            roots = sympy.solve(difference.xreplace({unknown: real}), real)
        except (NotImplementedError, ValueError):
            roots = []
        roots = [r.xreplace({real: unknown}) for r in roots]
        found[label] = sorted(roots, key=lambda r: (len(sympy.sstr(r)), sympy.sstr(r)))
    return found


def cost_of(
    analysis: Analysis,
    reader: ShapeReader,
    dims: dict[str, str],
    *,
    example_sizes: dict[str, int] | None = None,
    ranges: dict[str, tuple[int, int]] | None = None,
    solve: bool = False,
    progress: Progress = SILENT,
) -> CostReport:
    """The formulas of an analysed graph whose shapes ``reader`` reads."""
    sites = _contraction_parts(analysis)
    nodes: list[NodeCost] = []
    classes: dict[str, list[sympy.Expr]] = defaultdict(list)
    kinds: dict[str, list[sympy.Expr]] = defaultdict(list)
    site_parts = {(s.node, s.part): s.kind for s in analysis.sites}
    uncounted: list[str] = []
    ops = list(analysis.traced.op_nodes())
    with progress.task("cost formulas", total=len(ops)) as task:
        for node in ops:
            parts, counted = node_parts(node, reader)
            if not counted:
                uncounted.append(f"{node.name} ({op_name(node)})")
            macs = sympy.Add(*parts.values()) if len(parts) > 1 else next(iter(parts.values()))
            static, dynamic = _split(node, parts, sites)
            cls = analysis.classes.get(node, "unknown")
            nodes.append(NodeCost(node.name, op_name(node), cls, macs, parts, static, dynamic,
                                  counted))  # fmt: skip
            classes[cls].append(macs)
            for part, value in parts.items():
                kind = site_parts.get((node, part or None))
                if kind is not None:
                    kinds[kind].append(value)
            task.advance()
    unknown = sorted({n.op for n in nodes if n.cls == "unknown"})
    static_total = sympy.Add(*(n.static_contraction for n in nodes))
    dynamic_total = sympy.Add(*(n.dynamic_contraction for n in nodes))
    warnings = list(analysis.warnings)
    if unknown:
        warnings.append("unknown ops counted by their element count: " + ", ".join(unknown))
    report = CostReport(
        model=analysis.model,
        dims=dict(dims),
        example_sizes=dict(example_sizes or {}),
        ranges=dict(ranges or {}),
        nodes=nodes,
        total=sympy.Add(*(n.macs for n in nodes)),
        by_class={k: sympy.Add(*v) for k, v in sorted(classes.items()) if any(e != 0 for e in v)},
        by_site_kind={k: sympy.Add(*kinds.get(k, [])) for k in SITE_KINDS},
        static_contraction=static_total,
        dynamic_contraction=dynamic_total,
        crossover={},
        uncounted=uncounted,
        warnings=warnings,
    )
    if solve:
        progress.note("solving for the crossovers …")
        report.crossover = crossovers(static_total, dynamic_total, dims)
    return report


def _contraction_parts(analysis: Analysis) -> set[tuple[fx.Node, str]]:
    """``(node, part)`` of every contraction site (``""`` for an unfused one)."""
    return {(s.node, s.part or "") for s in analysis.sites if s.kind == "contraction"}


def _split(
    node: fx.Node, parts: dict[str, sympy.Expr], sites: set[tuple[fx.Node, str]]
) -> tuple[sympy.Expr, sympy.Expr]:
    """(static, dynamic) contraction multiply-adds of a node: a contraction's part is
    dynamic when it is a contraction site, else static; a fused recurrent layer's
    projections are static (``W·x``, ``W·h``)."""
    entry = entry_for(node)
    zero = sympy.Integer(0)
    if entry is None:
        return zero, zero
    if entry.rule is Rule.RECURRENT:
        return parts.get("projections", zero), zero
    if entry.rule not in CONTRACTION_RULES:
        return zero, zero
    static, dynamic = [], []
    for part, value in parts.items():
        (dynamic if (node, part) in sites else static).append(value)
    return sympy.Add(*static), sympy.Add(*dynamic)


def cost(
    module: Any,
    example_args: Sequence[Any],
    dims: Sequence[str | dimspec.DimSpec],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    hf: bool = False,
    solve: bool = False,
    progress: Progress = SILENT,
) -> CostReport:
    """Export ``module`` with the ``dims`` axes symbolic and give its cost formulas.

    ``dims`` are ``--dim`` strings (``"seq=N"``, ``"x:1=N"``, ``"seq=N:1..1024"``) or
    :class:`~analyzer.symbolic.dims.DimSpec`; ``hf=True`` reads axes by transformers'
    input names. Raises :class:`SpecError` when a dimension names no axis, or when
    torch.export fixes it (export's reason and, where it says one, a range to try).
    """
    traced, axes, sizes = trace_with_dims(
        module, example_args, dims, example_kwargs=example_kwargs, model=model, hf=hf,
        progress=progress,
    )  # fmt: skip
    progress.note(f"analysing {len(traced.graph.nodes)} nodes …")
    analysis = analyze_traced(traced)
    return cost_of_traced(analysis, axes, sizes, solve=solve, progress=progress)


def cost_of_traced(
    analysis: Analysis,
    axes: list[dimspec.Axis],
    sizes: dict[str, int],
    *,
    solve: bool = False,
    progress: Progress = SILENT,
) -> CostReport:
    """The formulas of a graph traced by :func:`trace_with_dims` and analysed."""
    renames = renames_from_inputs(analysis.traced, [(a.input, a.axis, a.spec.symbol) for a in axes])
    labels = {a.spec.label: a.spec.symbol for a in axes}
    ranges = {
        a.spec.symbol: (a.spec.low, a.spec.high)
        for a in axes if a.spec.low is not None and a.spec.high is not None
    }  # fmt: skip
    return cost_of(
        analysis, ShapeReader(renames), labels, example_sizes=sizes, ranges=ranges,
        solve=solve, progress=progress,
    )  # fmt: skip


def trace_with_dims(
    module: Any,
    example_args: Sequence[Any],
    dims: Sequence[str | dimspec.DimSpec],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    hf: bool = False,
    progress: Progress = SILENT,
) -> tuple[TracedModel, list[dimspec.Axis], dict[str, int]]:
    """Export with the named axes dynamic: the traced model, the axes, and the size each
    symbol was traced at."""
    specs = [d if isinstance(d, dimspec.DimSpec) else dimspec.parse_dim(d) for d in dims]
    if not specs:
        raise SpecError("give at least one --dim, e.g. --dim seq=N")
    kwargs = dict(example_kwargs or {})
    names = [*_positional_names(module, len(example_args)), *kwargs]
    inputs = [*example_args, *kwargs.values()]
    axes = dimspec.resolve_axes(specs, names, inputs, hf)
    sizes = dimspec.example_sizes(axes, inputs)
    inputs = dimspec.resized(inputs, axes, sizes)
    positional = len(example_args)
    shapes = dimspec.dynamic_shapes(axes, len(inputs))
    progress.note(
        "exporting with dynamic "
        + ", ".join(f"{a.spec.symbol} ({a.input_name} axis {a.axis})" for a in axes)
        + " …"
    )
    try:
        traced = trace(
            module, tuple(inputs[:positional]), frontend="export", model=model,
            example_kwargs=dict(zip(kwargs, inputs[positional:], strict=True)),
            dynamic_shapes=shapes,
        )  # fmt: skip
    except TraceError as error:
        raise _specialised(error, axes) or error
    return traced, axes, sizes


def _positional_names(module: Any, count: int) -> list[str]:
    import inspect

    try:
        parameters = list(inspect.signature(module.forward).parameters.values())
    except (AttributeError, TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < count:
        names = [f"input{i}" for i in range(count)]
    return names[:count]


_FIX = re.compile(r"(\w+)\s*=\s*Dim\(\s*'(\w+)'\s*(?:,\s*min\s*=\s*(\d+))?(?:,\s*max\s*=\s*(\d+))?")
_SOURCE = re.compile(r"(\w+) = (L\[[^\]]+\](?:\[\d+\])*\.size\(\)\[\d+\])")
_CONSTANT = re.compile(r"^\s*(\w+)\s*=\s*(\d+)\s*$", re.MULTILINE)


def _specialised(error: TraceError, axes: list[dimspec.Axis]) -> SpecError | None:
    """A :class:`SpecError` with export's reason and a suggested ``--dim`` when export
    rejected a dynamic dimension (a constraint violation); else ``None``."""
    cause = error.__cause__
    text = str(cause) if cause is not None else ""
    if "Constraints violated" not in text and "specialized" not in text:
        return None
    by_symbol = {a.spec.symbol: a.spec for a in axes}
    # export names an axis by its source (L['args'][0].size()[1]): say the symbol instead
    for name, source in _SOURCE.findall(text):
        text = text.replace(f"{name} = {source}", name).replace(source, name)
    reasons = [
        re.split(r"\. If you're using", line.strip()[2:])[0].rstrip(".")
        for line in text.splitlines() if line.strip().startswith("- ")
    ]  # fmt: skip
    reason = "; ".join(reasons) or " ".join(text.split("\n\n")[0].split())
    suggestions = []
    for _, name, low, high in _FIX.findall(text):
        spec = by_symbol.get(name)
        if spec is not None and high:
            suggestions.append(f"--dim {spec.label}={name}:{max(1, int(low or 1))}..{high}")
    fixed = [(name, size) for name, size in _CONSTANT.findall(text) if name in by_symbol]
    advice = ""
    if suggestions:
        advice = " Try a range: " + " ".join(suggestions) + "."
    elif fixed:
        advice = (
            " "
            + "; ".join(
                f"The model fixes {by_symbol[n].label} ({n}) to {s}: that axis cannot be symbolic"
                for n, s in fixed
            )
            + "."
        )
    named = ", ".join(f"{spec.label} ({name})" for name, spec in by_symbol.items())
    return SpecError(f"torch.export cannot keep {named} symbolic: {reason}.{advice}")
