"""The empirical backend: check what ``analyze`` publishes by differentiating the model.

DESIGN.md §4. The model is traced exactly as ``analyze`` traces it, the passes run on
that graph, and the *same* graph is executed node by node in float64
(:mod:`analyzer.empirical.execute`; ops whose PyTorch derivatives are wrong or missing
run through :mod:`analyzer.empirical.ops`). Every published claim is then measured
(:mod:`analyzer.empirical.checks`):

* **dependence** of every node: a non-zero tangent at a node called ``static`` or
  ``discrete``, or a value that changes between input samples at a node called
  ``static``, is a *violation*; a ``continuous`` node whose tangent is always zero is
  *unconfirmed* (allowed: the static pass over-approximates).
* **degree** of the output and of every node with a finite claimed degree, by nested
  ``jvp`` along random lines: the smallest ``k`` whose derivative ``k+1`` vanishes, relative
  to the lower derivatives' own scale. A node measured above its claim is a violation.
* **sites**, parts of fused ops included: confirmed when the operands vary and the
  product at that node mixes distinct input entries (its node-local mixed derivative
  along directions with disjoint supports is non-zero).
* **cross-entry terms** ``∂²y/∂xᵢ∂xⱼ`` (``i ≠ j``) of the output: non-zero ones contradict
  a claim of piecewise affinity.

``agree`` holds when no claim is contradicted, the output degree equals the claim and
every site is confirmed; ``sound`` when no claim is contradicted (over-approximation
allowed).

>>> from analyzer.frontend.zoo import build_zoo_model
>>> report = validate(*build_zoo_model("linear_attention"), samples=4)
>>> report.agree, report.degree_empirical, [s.confirmed for s in report.sites]
(True, '3', [True, True])
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.fx as fx

from analyzer.analysis import Analysis, analyze_traced
from analyzer.empirical.batching import (
    GIB,
    Batcher,
    Meter,
    chunk_size,
    default_budget,
    peak_bytes,
)
from analyzer.empirical.checks import (
    Projector,
    Samples,
    _projection,
    measure_degrees,
    measure_mixed,
    moved_by_integer_inputs,
    site_probes,
)
from analyzer.empirical.execute import ExecutionError, NodeError, Program, main_tensor
from analyzer.empirical.fidelity import (
    Fidelity,
    Reference,
    check_fidelity,
    model_degree,
    model_reference,
)
from analyzer.empirical.lines import (
    VALUE_SPANS,
    difference_norms,
    interpolation_blockers,
    line_degrees,
    measure_slopes,
    measure_values,
    value_degrees,
)
from analyzer.empirical.products import candidates
from analyzer.empirical.report import (
    RELATIVE_TOLERANCE,
    SCHEMA,
    SiteCheck,
    ValidationReport,
    order,
)
from analyzer.empirical.transposes import missing_transposes
from analyzer.empirical.verdicts import (
    at_least,
    capped,
    changed_between_samples,
    largest_derivatives,
    missing_sites,
    nested_degree,
    overflow_bounds,
    site_checks,
    spelled,
    unresolved,
    without_sources,
)
from analyzer.empirical.weights import random_weights
from analyzer.errors import AnalyzerError, SpecError
from analyzer.frontend.dialect import TracedModel, is_floating, op_name
from analyzer.frontend.tracing import trace
from analyzer.frontend.training import TrainingStep
from analyzer.passes.escapes import escaped_literals
from analyzer.passes.facts import INF, Dependence, format_degree
from analyzer.passes.sites import Site
from analyzer.progress import SILENT, Progress

__all__ = [
    "RELATIVE_TOLERANCE",
    "SCHEMA",
    "SiteCheck",
    "ValidationReport",
    "check_options",
    "default_device",
    "validate",
    "validate_traced",
]


def default_device() -> str:
    """``cuda`` when a GPU is present, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def exact_arithmetic() -> Iterator[None]:
    """TF32 off while validating: it breaks exact identities at ~1e-3 on NVIDIA GPUs."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def check_options(
    samples: int,
    max_degree: int,
    memory: float | None,
    device: str,
    pairs: int | None = None,
    degree_method: str = "auto",
) -> None:
    """Fail early, naming the argument, on options no validation can use."""
    if samples < 1:
        raise SpecError(f"samples must be at least 1, not {samples}")
    if pairs is not None and pairs < 1:
        raise SpecError(f"pairs must be at least 1, not {pairs}")
    if degree_method not in ("auto", "interpolation", "nested"):
        raise SpecError(
            f"degree_method must be 'auto', 'interpolation' or 'nested', not {degree_method!r}"
        )
    if not 1 <= max_degree <= 8:
        raise SpecError(f"max_degree must be between 1 and 8, not {max_degree}")
    if memory is not None and not memory > 0:
        raise SpecError(f"memory must be a positive number of GiB, not {memory}")
    if device == "meta":
        raise SpecError("device 'meta' cannot run the model: use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"device {device!r} was asked for, but CUDA is not available here")


def validate(
    module: torch.nn.Module,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    device: str | None = None,
    samples: int = 16,
    max_degree: int = 4,
    pairs: int | None = None,
    seed: int = 0,
    batched: bool = True,
    frontend: str = "auto",
    mode: str | None = None,
    memory: float | None = None,
    progress: Progress = SILENT,
    degree_method: str = "auto",
    training: TrainingStep | None = None,
) -> ValidationReport:
    """Trace ``module`` as ``analyze`` does, analyse it, and check every published claim
    by differentiating the same graph in float64 on ``device`` (default
    :func:`default_device`). The module is analysed in the mode it was handed in unless
    ``mode`` names one, and is never changed (a model built on the meta device is
    copied and given random weights). ``samples`` random lines measure degrees;
    ``pairs`` pairs of directions with disjoint supports (default: ``samples``) measure
    dependence, sites and cross-entry terms. ``memory`` (GiB) bounds the peak memory by
    splitting the samples into chunks (default: half of the device's free memory).
    ``degree_method`` is ``auto`` (interpolation where exact, else nested ``jvp``),
    ``interpolation`` or ``nested``. With ``training``, the graph checked is one SGD step
    of the model (DESIGN §5), differentiated with respect to the data and targets.
    """
    device = device or default_device()
    check_options(samples, max_degree, memory, device, pairs, degree_method)
    started = time.perf_counter()
    module = _materialised(module, device)
    with progress.task("trace and analysis"):
        traced = trace(
            module, example_args, example_kwargs=example_kwargs, model=model,
            frontend=frontend, mode=mode, training=training,
        )  # fmt: skip
        analysis = analyze_traced(traced)
    traced_in = time.perf_counter() - started
    reference: Reference | str = (
        "not checked: a training step returns updated weights, not the model's output"
        if training is not None
        else _reference(module, example_args, example_kwargs or {}, device, mode, memory)
    )
    report = validate_traced(
        traced, analysis, device=device, samples=samples, max_degree=max_degree, pairs=pairs,
        seed=seed, batched=batched, memory=memory, progress=progress,
        degree_method=degree_method, reference=reference,
    )  # fmt: skip
    report.seconds_by_check = {"trace": traced_in, **report.seconds_by_check}
    report.seconds = time.perf_counter() - started
    return report


def _values_escaped(traced: TracedModel) -> bool:
    """Whether a floating-point value left the graph as a Python number (``.item()`` under
    a frontend that ran the model): booleans and counts read the same way are control
    flow, which the frozen-region warning covers."""
    reads = set(escaped_literals(traced.graph).values())
    return any(isinstance(r.args[0], fx.Node) and is_floating(r.args[0]) for r in reads if r.args)


def _reference(
    module: Any,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    device: str,
    mode: str | None,
    memory: float | None,
) -> Reference | str:
    """The model itself in float64 for the fidelity check, or why it is left out."""
    if isinstance(module, torch.nn.Module):
        weights = sum(t.numel() for t in [*module.parameters(), *module.buffers()]) * 8
        budget = memory * GIB if memory is not None else default_budget(torch.device(device))
        if weights > budget / 4:
            return "not checked: a float64 copy of the model does not fit the memory budget"
    return model_reference(module, args, kwargs, device, mode)


def _materialised(module: Any, device: str) -> Any:
    """A module built on the meta device becomes a copy with random weights on ``device``
    (the caller's module is never changed); any other module is used as it is."""
    if not isinstance(module, torch.nn.Module):
        return module
    tensors = [*module.parameters(), *module.buffers()]
    if not any(t.is_meta for t in tensors):
        return module
    module = copy.deepcopy(module)
    for submodule in module.modules():
        random_weights(submodule, module, torch.device(device))
    return module


def validate_traced(
    traced: TracedModel,
    analysis: Analysis | None = None,
    *,
    device: str | None = None,
    samples: int = 16,
    max_degree: int = 4,
    pairs: int | None = None,
    seed: int = 0,
    batched: bool = True,
    memory: float | None = None,
    progress: Progress = SILENT,
    scope: str = "the model's input",
    degree_method: str = "auto",
    reference: Reference | str = "not checked: no model to compare the graph with",
) -> ValidationReport:
    """Check the claims of ``analysis`` (default: ``analyze`` of ``traced``) on the very
    graph it was computed from. ``traced`` must come from :func:`analyzer.trace` (a
    stored trace has no weights to run). ``reference`` runs the model itself at given
    inputs (:func:`analyzer.empirical.fidelity.model_reference`) so that the graph can be
    compared with it."""
    device = device or default_device()
    check_options(samples, max_degree, memory, device, pairs, degree_method)
    analysis = analysis if analysis is not None else analyze_traced(traced)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    try:
        with exact_arithmetic():
            report = _measure(
                traced, analysis, torch.device(device), samples, pairs or samples, max_degree,
                seed, batched, memory, progress, seconds, degree_method, reference,
            )  # fmt: skip
    except NodeError as error:
        raise ExecutionError(
            f"validate could not run or differentiate {traced.model}: {error}. The static "
            "analysis is unaffected; this op needs an implementation in "
            "analyzer/empirical/ops.py to be validated."
        ) from error
    except torch.OutOfMemoryError as error:
        raise ExecutionError(
            f"validate ran out of device memory on {traced.model}: lower --memory or "
            "--samples, or use --blockwise"
        ) from error
    except (AnalyzerError, KeyboardInterrupt):
        raise
    except Exception as error:  # never a traceback: one paragraph, exit 3 (--debug shows it)
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise ExecutionError(
            f"validate could not run or differentiate {traced.model}: "
            f"{type(error).__name__}: {lines[0][:300] if lines else ''}"
        ) from error
    report.seconds = time.perf_counter() - started
    report.seconds_by_check = seconds
    report.scope = scope
    return report


def _measure(
    traced: TracedModel,
    analysis: Analysis,
    device: torch.device,
    samples: int,
    pairs: int,
    cap: int,
    seed: int,
    batched: bool,
    memory: float | None,
    progress: Progress,
    seconds: dict[str, float],
    degree_method: str,
    reference: Reference | str,
) -> ValidationReport:
    clock = time.perf_counter()
    with progress.task("preparing float64 copies"):
        program = Program.of(traced, device, seed)
    facts = analysis.facts
    if not program.sources:
        projector = Projector(program.shapes, device, seed)
        moved = moved_by_integer_inputs(program, projector, seed)
        return without_sources(traced, analysis, program, device, samples, cap, moved)
    nodes = [
        n for n in traced.graph.nodes
        if n in program.varying and n.op != "output" and n.name in program.shapes
        and n not in program.opaque
    ]  # fmt: skip
    inner = [k for k in program.shapes if "." in k]
    keys = [n.name for n in nodes] + inner + ["output"]
    output_shapes = {
        f"output.{i}": (t.shape, t.dtype)
        for i, t in enumerate(program.outputs(program.source_values))
    }
    project = Projector({**program.shapes, **output_shapes}, device, seed)
    drawn = Samples.draw(program.source_values, max(samples, pairs), seed)
    lines_drawn = drawn.first(samples)
    pairs_drawn = drawn.first(pairs)
    probes, _ = site_probes(program, analysis.sites)
    kinds = {(s.node, s.part): s.kind for s in analysis.sites}
    unlisted = candidates(program, set(kinds), kinds)
    local = [Site(c.node, "candidate", ()) for c in unlisted if c.test == "local"]
    candidate_probes = {p.site.node.name: p for p in site_probes(program, local)[0]}
    weights, activations = peak_bytes(traced)
    budget = int(memory * GIB) if memory is not None else default_budget(device)
    meter = Meter(device) if Meter.available(device) else None
    start_chunk = chunk_size(budget, weights * 2, activations * 6, samples)
    batcher = Batcher(batched, start_chunk, budget, meter)
    seconds["setup"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with progress.task("graph fidelity"):
        if isinstance(reference, str):
            fidelity = Fidelity(note=reference)
        else:
            fidelity = check_fidelity(program, reference, pairs_drawn.points)
    seconds["fidelity"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with progress.task("dependence, sites, cross-entry terms", total=pairs) as task:
        mixed = measure_mixed(
            program, keys, probes, project, pairs_drawn, batcher, task, unlisted,
            candidate_probes,
        )  # fmt: skip
    seconds["dependence_sites_cross_entry"] = time.perf_counter() - clock

    clock = time.perf_counter()
    position = {k: i for i, k in enumerate(keys)}
    blockers = interpolation_blockers(program)
    nested = degree_method == "nested" or (degree_method == "auto" and bool(blockers))
    if degree_method == "interpolation" and blockers:
        raise SpecError(
            f"degree_method='interpolation' is not exact for {', '.join(blockers[:3])}: "
            "use 'auto' or 'nested'"
        )
    nested_cost = chunk_size(budget, weights * 2, activations * 2 ** (cap + 2), samples)

    def by_nested_jvp(task: Any = None) -> tuple[dict[str, str], list[float]]:
        batcher.chunk = nested_cost
        series = measure_degrees(program, keys, project, lines_drawn, cap, batcher, task)
        norms = largest_derivatives(series)  # (orders, keys)
        overflowed = unresolved(series[:, 1:], series[:, 0])
        bounds = overflow_bounds(series[:, 1:])
        measured = {}
        for k, i in position.items():
            degree = nested_degree(norms[:, i].tolist(), cap)
            if bounds[i] > cap:  # a derivative above the cap overflowed: not zero
                degree = "inf"
            elif overflowed[i] and degree != "inf":
                degree = at_least(str(max(int(order(degree)), bounds[i])))
            measured[k] = degree
        return measured, norms[1:, position["output"]].tolist()  # orders 1 … cap + 1

    differenced = sorted(
        {op_name(n) for n, f in program.fallbacks.items()
         if f.how == "finite differences" and n in program.varying}
    )  # fmt: skip

    with progress.task("degree", total=samples) as task:
        if differenced and degree_method == "auto":  # derivatives of first order only
            method = (
                f"differences of the graph's values at {cap + 2} points per line "
                f"({', '.join(differenced[:3])} ran through finite differences, whose "
                "derivatives are first order only)"
            )
            batcher.chunk = chunk_size(budget, weights * 2, activations * 2, samples)
            readings = []
            for span in VALUE_SPANS:
                values = measure_values(
                    program, keys, lambda k, v: _projection(project, k, v),
                    lines_drawn.points, lines_drawn.lines, cap, batcher,
                    task if span == VALUE_SPANS[0] else None, span,
                )  # fmt: skip
                readings.append((value_degrees(values, cap), unresolved(values)))
            derivative_norms = readings[0][0][1]
            degrees = [
                min((x for x in d if not math.isnan(x)), default=math.nan)
                for d in zip(*(r[0][0] for r in readings), strict=True)
            ]
            measured = {k: spelled(degrees[i]) for k, i in position.items()}
            overflowed = [any(o) for o in zip(*(r[1] for r in readings), strict=True)]
            measured = {
                k: at_least(d) if overflowed[position[k]] else d for k, d in measured.items()
            }
        elif nested:  # an op that is neither analytic nor piecewise linear: exact Taylor
            reason = f" (not interpolated because of {', '.join(blockers[:3])})" if blockers else ""
            method = f"nested jvp at each point{reason}"
            measured, derivative_norms = by_nested_jvp(task)
        else:
            method = f"first derivatives interpolated at {cap + 1} points per line"
            batcher.chunk = chunk_size(budget, weights * 2, activations * 3 * (cap + 1), samples)
            slopes = measure_slopes(
                program, keys, lambda k, v: _projection(project, k, v), lines_drawn.points,
                lines_drawn.lines, cap, batcher, task,
            )  # fmt: skip
            degrees = line_degrees(slopes, cap)
            overflowed = unresolved(slopes)
            measured = {
                k: at_least(spelled(degrees[i])) if overflowed[i] else spelled(degrees[i])
                for k, i in position.items()
            }
            derivative_norms = difference_norms(slopes[:, :, position["output"]], cap)
            if any(overflowed):  # nested jvp reads more of what overflowed
                method = "nested jvp at each point (the interpolation overflowed)"
                measured, derivative_norms = by_nested_jvp()
            elif any(math.isnan(d) for d in degrees):  # a linearised kink left the domain
                method = "nested jvp at each point (the interpolation left the model's domain)"
                measured, derivative_norms = by_nested_jvp()
    if fidelity.mismatched and _values_escaped(traced) and not isinstance(reference, str):
        # a value the graph read with .item() became a constant of the graph, so the graph is
        # not the model here (frozen control flow alone is a region, and the graph is right
        # in it): its degree is not the model's either
        from_model = model_degree(program, reference, lines_drawn.points, lines_drawn.lines, cap)
        if from_model is not None:
            measured["output"] = from_model
            method = (
                "finite differences of the model itself along the lines (the traced graph "
                "differs from the model: see graph fidelity)"
            )
    seconds["degree"] = time.perf_counter() - clock
    tangent = torch.maximum(mixed.tangent_u.abs(), mixed.tangent_v.abs())
    tangent = torch.nan_to_num(tangent, nan=math.inf).amax(dim=0).tolist()
    changed = changed_between_samples(mixed.values)
    with progress.task("integer inputs"):
        clock = time.perf_counter()
        moved_by_integers = moved_by_integer_inputs(program, project, seed)
        seconds["integer_inputs"] = time.perf_counter() - clock

    checked, violations, reasons, unconfirmed, degree_violations = 0, [], {}, [], {}
    for node in traced.graph.nodes:
        if node.op == "output" or main_tensor(node.meta.get("val")) is None:
            continue
        if node in program.opaque:
            continue  # inside the model's own vmap: checked through what leaves it
        checked += 1
        fact = facts[node]
        i = position.get(node.name)
        moved = tangent[i] if i is not None else 0.0
        varied = changed[i] if i is not None else False
        if fact.dependence is not Dependence.CONTINUOUS and moved > 0:
            violations.append(node.name)
            reasons[node.name] = f"called {fact.dependence}, but its tangent is non-zero"
        elif fact.dependence is Dependence.STATIC and varied:
            violations.append(node.name)
            reasons[node.name] = "called static, but its value changes with the input"
        elif fact.dependence is Dependence.STATIC and node.name in moved_by_integers:
            violations.append(node.name)
            reasons[node.name] = "called static, but its value changes with the integer inputs"
        elif fact.is_continuous and moved == 0:
            unconfirmed.append(node.name)
        if fact.is_continuous and i is not None and fact.degree != INF and fact.degree <= cap:
            if order(measured[node.name]) > fact.degree:
                degree_violations[node.name] = (format_degree(fact.degree), measured[node.name])

    sites = site_checks(analysis, probes, mixed, position)
    missing = missing_sites(analysis, unlisted, mixed, position)
    shown = {(m["node"], m.get("part")) for m in missing}
    contractions = [
        (s.node, s.part) for s, c in zip(analysis.sites, sites, strict=True)
        if s.kind == "contraction" and c.confirmed
    ] + [
        (c.node, c.part) for c in unlisted
        if c.test == "contraction" and (c.node.name, c.part) in shown
    ]  # fmt: skip
    transposes = missing_transposes(analysis, program, contractions)
    out = position["output"]
    cross = mixed.output_cross.abs()
    first = torch.maximum(mixed.tangent_u[:, out].abs(), mixed.tangent_v[:, out].abs()).amax()
    nonzero = int(((cross > 0) & (cross > RELATIVE_TOLERANCE * first)).sum())
    finite = cross[torch.isfinite(cross)]
    warnings = list(analysis.warnings)
    if batcher.over_budget:
        warnings.append(
            f"one sample alone needed {batcher.peak / GIB:.2f} GiB, more than the memory "
            f"budget of {budget / GIB:.2f} GiB allows: samples ran one at a time"
        )
    if batcher.mode == "loop" and batched:
        warnings.append(f"samples ran one at a time: {batcher.description}")
    return ValidationReport(
        model=traced.model,
        device=str(device),
        dtype="float64",
        samples=samples,
        max_degree=cap,
        degree_static=capped(analysis.output_fact.degree, cap),
        degree_empirical=measured["output"],
        derivative_norms=derivative_norms,
        degree_method=method,
        checked_nodes=checked,
        violations=violations,
        unconfirmed=unconfirmed,
        sites=sites,
        cross_pairs=pairs,
        cross_nonzero=nonzero,
        cross_max=float(finite.amax()) if finite.numel() else 0.0,
        seconds=0.0,
        batching=batcher.description if batched else "loop",
        analysis=analysis,
        mode=traced.mode,
        frontend=traced.frontend,
        warnings=warnings,
        violation_reasons=reasons,
        degree_violations=degree_violations,
        node_degrees={k: v for k, v in measured.items() if k != "output"},
        fallbacks=program.fallback_notes(),
        memory_budget_gib=budget / GIB,
        peak_memory_gib=batcher.peak / GIB,
        fidelity=fidelity,
        missing_sites=missing,
        missing_transposes=transposes,
    )
