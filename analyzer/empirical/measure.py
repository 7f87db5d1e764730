"""Measuring every published claim on one traced graph: run the graph in float64 at
random inputs (:mod:`analyzer.empirical.execute`), measure dependence, degrees, sites
and cross-entry terms (:mod:`analyzer.empirical.checks`, :mod:`analyzer.empirical.lines`),
and turn the measurements into verdicts (:mod:`analyzer.empirical.verdicts`), one
:class:`~analyzer.empirical.report.ValidationReport`. The entry points, their options
and their errors are :mod:`analyzer.empirical.validate`'s.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from analyzer.analysis import Analysis
from analyzer.empirical.batching import (
    GIB,
    Batcher,
    Meter,
    chunk_size,
    default_budget,
    peak_bytes,
)
from analyzer.empirical.checks import (
    measure_degrees,
    measure_mixed,
    moved_by_integer_inputs,
    site_probes,
)
from analyzer.empirical.execute import Program, main_tensor
from analyzer.empirical.fidelity import (
    Fidelity,
    Reference,
    check_fidelity,
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
from analyzer.empirical.model_lines import degree_from_values
from analyzer.empirical.products import candidates
from analyzer.empirical.report import (
    RELATIVE_TOLERANCE,
    ValidationReport,
    order,
)
from analyzer.empirical.sampling import Projector, Samples, _projection
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
from analyzer.errors import SpecError
from analyzer.frontend.dialect import TracedModel, op_name
from analyzer.passes.facts import INF, Dependence, format_degree
from analyzer.passes.sites import Site
from analyzer.progress import Progress


def measure(
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
    override = degree_from_values(
        program, reference, fidelity, lines_drawn.points, lines_drawn.lines, cap, seed
    )
    if override is not None:
        measured["output"], method = override
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
