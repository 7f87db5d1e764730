"""From measurements to verdicts: degrees from derivatives, changed values, confirmed and
missing sites (the tolerances are in :mod:`analyzer.empirical.report`).

>>> nested_degree([5.0, 2.0, 4.0, 0.0, 0.0, 0.0], cap=4)  # derivatives 0 to 5 at a point
'2'
>>> at_least("3"), at_least("inf")
('≥ 3', 'inf')
"""

from __future__ import annotations

import math
from typing import Any

import torch

from analyzer.analysis import Analysis
from analyzer.empirical.checks import Mixed
from analyzer.empirical.execute import Program
from analyzer.empirical.products import Candidate
from analyzer.empirical.report import (
    RANK_TOLERANCE,
    RELATIVE_TOLERANCE,
    SiteCheck,
    ValidationReport,
)
from analyzer.empirical.values import main_tensor
from analyzer.frontend.dialect import TracedModel, op_name
from analyzer.passes.facts import INF, Dependence, format_degree


def without_sources(
    traced: TracedModel,
    analysis: Analysis,
    program: Program,
    device: Any,
    samples: int,
    cap: int,
    moved: set[str],
) -> ValidationReport:
    """A model with no continuous source (integer inputs only): every value is a function
    of discrete inputs, degree 0; a claim of continuity is over-approximation."""
    nodes = [
        n for n in traced.graph.nodes
        if n.op != "output" and main_tensor(n.meta.get("val")) is not None
    ]  # fmt: skip
    facts = analysis.facts
    sites = [
        SiteCheck(
            s.node.name, s.kind, analysis.module_of(s.node), False, 0.0, s.part, s.operand_names
        )
        for s in analysis.sites
    ]
    return ValidationReport(
        model=traced.model, device=str(device), dtype="float64", samples=samples,
        max_degree=cap, degree_static=capped(analysis.output_fact.degree, cap),
        degree_empirical="0", derivative_norms=[], checked_nodes=len(nodes),
        violations=[
            n.name for n in nodes
            if n.name in moved and facts[n].dependence is Dependence.STATIC
        ],
        unconfirmed=[n.name for n in nodes if facts[n].is_continuous], sites=sites,
        violation_reasons={
            n.name: "called static, but its value changes with the integer inputs"
            for n in nodes if n.name in moved and facts[n].dependence is Dependence.STATIC
        },
        cross_pairs=0, cross_nonzero=0, cross_max=0.0, seconds=0.0, batching="none",
        analysis=analysis, mode=traced.mode, frontend=traced.frontend,
        warnings=[
            *analysis.warnings,
            "the model has no continuous source (no floating-point input, no lookup by "
            "input indices): nothing to differentiate, and integer inputs are not perturbed",
        ],
        degree_method="none: no continuous source", fallbacks=program.fallback_notes(),
    )  # fmt: skip


def largest_derivatives(series: torch.Tensor) -> torch.Tensor:
    """Per order and value, the largest |derivative| over the samples where every order
    is resolved (a sample outside the model's domain, or whose derivatives overflowed, is
    left out: see :func:`unresolved`)."""
    magnitude = series.abs()
    kept = torch.isfinite(series).all(dim=1, keepdim=True)  # (samples, 1, values)
    magnitude = torch.where(kept, magnitude, torch.zeros_like(magnitude))
    return magnitude.amax(dim=0)


def unresolved(measured: torch.Tensor, values: torch.Tensor | None = None) -> list[bool]:
    """Per value of a ``(samples, points or orders, values)`` measurement (derivatives,
    slopes, or values along lines) and, for derivatives, the ``(samples, values)`` values
    themselves: whether its degree could not be read at some sample — an infinite
    derivative (an overflow, a singular point), or anything not finite while something
    overflowed somewhere (``inf − inf`` and a projection of ``±inf`` read NaN, like a
    point outside the domain; a value of degree 2²⁰⁰ overflows at some points and
    underflows to exact zeros at others). The degree read at the other samples is then
    only a lower bound. Without any infinity, NaN is a point outside the domain.

    >>> inf, nan = float("inf"), float("nan")
    >>> unresolved(torch.tensor([[[1.0, 1.0, 2.0]], [[inf, nan, 2.0]]]))
    [True, True, False]
    >>> unresolved(torch.tensor([[[1.0, nan]]]))  # outside the domain
    [False, False]
    """
    broken = (~torch.isfinite(measured)).any(dim=1)  # (samples, values)
    overflow = bool(torch.isinf(measured).any())
    if values is not None:
        broken = broken | ~torch.isfinite(values)
        overflow = overflow or bool(torch.isinf(values).any())
    infinite = torch.isinf(measured).any(dim=1).any(dim=0)
    return (infinite | (broken.any(dim=0) & overflow)).tolist()


def overflow_bounds(derivatives: torch.Tensor) -> list[int]:
    """Per value of ``(samples, orders 1 … cap + 1, values)``: the highest order whose
    derivative overflowed (``±inf``) at some sample with every lower order still a
    number — an infinite derivative is not zero, so the degree is at least that order.

    >>> inf, nan = float("inf"), float("nan")
    >>> overflow_bounds(torch.tensor([[[1.0, 1.0], [inf, 0.0], [nan, inf]]]))
    [2, 3]
    """
    numbers = ~torch.isnan(derivatives)
    reached = numbers.int().cumprod(dim=1).bool()  # no NaN up to this order
    orders = torch.arange(1, derivatives.size(1) + 1, device=derivatives.device)
    hit = torch.isinf(derivatives) & reached
    bound = torch.where(hit, orders.view(1, -1, 1), torch.zeros_like(orders).view(1, -1, 1))
    return bound.amax(dim=(0, 1)).tolist()


def at_least(degree: str) -> str:
    """A measured degree as a lower bound: ``≥ k`` (``inf`` stays ``inf``)."""
    if degree == "inf" or degree.startswith("≥"):
        return degree
    return "≥ 0" if degree == "undefined" else f"≥ {degree}"


def nested_degree(norms: list[float], cap: int) -> str:
    """The smallest ``k`` whose derivative ``k+1`` vanishes: exactly for ``k = 0`` (a
    static value has no tangent at all), else relative to the largest of derivatives
    ``1 … k`` (so that the model's own scale sets the tolerance, and a constant offset
    does not hide a small product)."""
    if norms[1] == 0:
        return "0"
    for k in range(1, cap + 1):
        scale = max(norms[1 : k + 1])
        if math.isfinite(norms[k + 1]) and norms[k + 1] <= RELATIVE_TOLERANCE * scale:
            return str(k)
    return "inf"


def spelled(degree: float) -> str:
    """A measured degree as the JSON spells it (``nan``: undefined at every sample)."""
    if math.isnan(degree):
        return "undefined"
    return "inf" if degree == math.inf else str(int(degree))


def changed_between_samples(values: torch.Tensor) -> list[bool]:
    """Per value: does it differ between samples (sample 0 is the example input)?"""
    reference = values[:1]
    same = (values == reference) | (torch.isnan(values) & torch.isnan(reference))
    scale = torch.maximum(values.abs(), reference.abs())
    close = (values - reference).abs() <= 1e-12 * torch.nan_to_num(scale, posinf=0.0)
    return (~(same | close)).any(dim=0).tolist()


def capped(degree: float, cap: int) -> str:
    """A static degree above the measurable cap reads as ``inf``, as the measurement does."""
    return "inf" if degree == INF or degree > cap else format_degree(degree)


def missing_sites(
    analysis: Analysis, unlisted: list[Candidate], mixed: Mixed, position: dict[str, int]
) -> list[dict[str, Any]]:
    """The unlisted multiplying nodes that the measurement shows to be sites."""
    found = []
    evidence = torch.nan_to_num(mixed.candidate_evidence.abs(), nan=0.0).amax(dim=0).tolist()
    for candidate, value in zip(unlisted, evidence, strict=True):
        if candidate.test == "rank":
            shown = value > RANK_TOLERANCE
            why = "its factors are not pointwise functions of one tensor"
        elif candidate.test == "contraction":
            shown = value > 0
            why = "it contracts two operands that both vary with the input"
        else:
            column = position.get(candidate.node.name)
            scale = 0.0
            if column is not None:
                tangents = torch.maximum(
                    mixed.tangent_u[:, column].abs(), mixed.tangent_v[:, column].abs()
                )
                scale = float(tangents.nan_to_num(0.0).amax())
            shown = value > 0 and value > RELATIVE_TOLERANCE * scale
            why = "it multiplies distinct entries of a varying operand"
        if shown:
            entry = {
                "node": candidate.node.name,
                "op": op_name(candidate.node),
                "module": analysis.module_of(candidate.node),
                "evidence": value,
                "why": why,
            }
            if candidate.part is not None:
                entry["part"] = candidate.part
            if candidate.published_as is not None:
                entry["published_as"] = candidate.published_as
                entry["why"] = f"published as {candidate.published_as}, but {why}"
            found.append(entry)
    return found


def site_checks(
    analysis: Analysis, probes: list[Any], mixed: Mixed, position: dict[str, int]
) -> list[SiteCheck]:
    checks = []
    operand_column = {k: i for i, k in enumerate(mixed.operand_keys)}
    local = mixed.site_local.abs()
    local = torch.where(torch.isnan(local), torch.zeros_like(local), local).amax(dim=0)
    for index, probe in enumerate(probes):
        site = probe.site
        vary = all(
            float(mixed.operand_tangents[:, operand_column[k]].amax()) > 0
            for k in probe.operand_keys
        )
        column = position.get(probe.key)
        scale = 0.0
        if column is not None:
            scale = float(
                torch.maximum(mixed.tangent_u[:, column].abs(), mixed.tangent_v[:, column].abs())
                .nan_to_num(0.0)
                .amax()
            )
        checks.append(
            SiteCheck(
                node=site.node.name,
                kind=site.kind,
                module=analysis.module_of(site.node),
                operands_vary=vary,
                mixed_derivative=float(local[index]),
                part=site.part,
                operands=site.operand_names,
                scale=scale,
            )
        )
    return checks
